"""Confidence score (0..1) and answer bands.

PROVISIONAL WEIGHTS - replaced after fitting (see docstring update below).
"""

from __future__ import annotations

import math

from .index import Analysis, Candidate, SearchIndex

FEATURES = ("cov_q", "cov_all", "fuzzy", "margin", "unknown", "worst_miss", "program_mismatch", "advice", "intent_mismatch")
WEIGHTS = {"cov_q": 1.0, "cov_all": 6.0, "fuzzy": 1.5, "margin": 1.5, "unknown": -3.0,
           "worst_miss": -1.5, "program_mismatch": -4.0, "advice": -10.0, "intent_mismatch": -1.5}
BIAS = -5.0

ANSWER_THRESHOLD = 0.45
SUGGEST_THRESHOLD = 0.15
# A question made only of programme/track names is capped inside the suggest band.
TOPICLESS_CAP = (ANSWER_THRESHOLD + SUGGEST_THRESHOLD) / 2


def features(index: SearchIndex, analysis: Analysis, top: Candidate, second: Candidate | None) -> dict[str, float]:
    cov_q, cov_all, worst_miss = index.coverage(analysis, top.index)
    if second is None:
        margin = 1.0
    else:
        margin = max(0.0, (top.rank_score - second.rank_score) / max(top.rank_score, 1e-9))
    return {
        "cov_q": round(cov_q, 4),
        "cov_all": round(cov_all, 4),
        "fuzzy": round(float(top.fuzzy), 4),
        "margin": round(float(margin), 4),
        "unknown": round(index.unknown_share(analysis), 4),
        "worst_miss": round(worst_miss, 4),
        "program_mismatch": 0.0,
        "advice": float(any(p in analysis.norm for p in index.vocab.advice)),
        "intent_mismatch": index.intent_mismatch(analysis, top.index),
    }


def confidence(f: dict[str, float]) -> float:
    z = BIAS + sum(WEIGHTS[name] * f.get(name, 0.0) for name in FEATURES)
    return 1.0 / (1.0 + math.exp(-z))


def band(score: float) -> str:
    if score >= ANSWER_THRESHOLD:
        return "answer"
    if score >= SUGGEST_THRESHOLD:
        return "suggest"
    return "fallback"
