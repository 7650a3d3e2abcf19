"""Speed measurements for the FAQ engine (used by `make bench`, bench/__main__.py).

Targets (task brief): ask() p50 <= 5 ms and p99 <= 20 ms on 2 cores; index
build < 2 s.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Iterable, Sequence

from .loader import DEFAULT_ENTRIES_DIR, DEFAULT_SEEDS_DIR


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def benchmark_ask(kb, questions: Iterable[str], repeat: int = 5) -> dict:
    """Time ``kb.ask`` over ``questions`` ``repeat`` times.  Milliseconds.

    The first pass is reported separately as ``cold_*``: it includes the
    normalisation/segmentation of never-seen text (cached afterwards), which
    is what a real new LINE message costs."""
    qs = [q for q in questions if q]
    cold: list[float] = []
    for q in qs:
        t0 = time.perf_counter()
        kb.ask(q)
        cold.append((time.perf_counter() - t0) * 1000.0)
    cold.sort()
    samples: list[float] = []
    for _ in range(max(1, repeat)):
        for q in qs:
            t0 = time.perf_counter()
            kb.ask(q)
            samples.append((time.perf_counter() - t0) * 1000.0)
    samples.sort()
    return {
        "n": len(samples),
        "questions": len(qs),
        "repeat": repeat,
        "p50_ms": round(_percentile(samples, 0.50), 3),
        "p90_ms": round(_percentile(samples, 0.90), 3),
        "p99_ms": round(_percentile(samples, 0.99), 3),
        "max_ms": round(samples[-1], 3) if samples else 0.0,
        "mean_ms": round(statistics.fmean(samples), 3) if samples else 0.0,
        "cold_p50_ms": round(_percentile(cold, 0.50), 3),
        "cold_p99_ms": round(_percentile(cold, 0.99), 3),
    }


def benchmark_build(entries_dir: str | Path = DEFAULT_ENTRIES_DIR, seeds_dir: str | Path | None = DEFAULT_SEEDS_DIR) -> dict:
    """Cold start (jieba dictionary + KB) and a warm rebuild (what reload() costs)."""
    from .index import default_analyzer
    from .service import KnowledgeBase

    t0 = time.perf_counter()
    default_analyzer()
    t1 = time.perf_counter()
    kb = KnowledgeBase.load(entries_dir, seeds_dir)
    t2 = time.perf_counter()
    kb.reload(strict=False)
    t3 = time.perf_counter()
    return {
        "entries": kb.report.total,
        "analyzer_s": round(t1 - t0, 3),
        "first_build_s": round(t2 - t1, 3),
        "rebuild_s": round(t3 - t2, 3),
        "kb": kb,
    }
