"""Fit the confidence model on a synthetic set built from the KB itself.

    .venv/bin/python -m knowledge.fit_calibration [--entries DIR] [--folds 3]

Why synthetic: the dev set is small (57 + 14 questions) and is for measuring,
so the weights of the logistic model are learnt from the knowledge base:

* positives: hold out one alternative phrasing of every entry, rebuild the
  index without it, and ask it.  Label 1 when the entry comes back first;
  other outcomes are left out (often a neighbouring entry - ambiguous label).
* near-miss negatives: hold out whole entries (every 8th, shifted per fold),
  rebuild without them, and ask their question and alternatives.  The KB
  shares their vocabulary but no longer holds the answer - exactly the
  "near-miss" out-of-scope situation.  Label 0.

It prints the coefficients to paste into knowledge/calibration.py and the
features' separation; the thresholds are then chosen on the dev set.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from . import calibration
from .index import SearchIndex, default_analyzer
from .loader import DEFAULT_ENTRIES_DIR, DEFAULT_SEEDS_DIR, check_knowledge_base
from .service import KnowledgeBase


def synthetic_rows(entries, *, folds: int = 3, holdout_every: int = 8):
    analyzer = default_analyzer()
    kb = KnowledgeBase(entries_dir=DEFAULT_ENTRIES_DIR, seeds_dir=None, analyzer=analyzer)
    rows: list[tuple[dict, int, str]] = []
    for fold in range(folds):
        held: dict[str, str] = {}
        modified = []
        for e in entries:
            if len(e.alternatives) > fold + 1:
                alt = e.alternatives[-(fold + 1)]
                held[e.id] = alt
                e = dataclasses.replace(e, alternatives=tuple(a for a in e.alternatives if a != alt))
            modified.append(e)
        index = SearchIndex(modified, analyzer)
        for eid, q in held.items():
            r = kb.retrieve(index, q)
            if r.reason:
                continue
            top = index.entries[r.candidates[0].index].id
            if top == eid:
                rows.append((r.features, 1, "pos"))
            # A different top entry is often a near-duplicate topic (the
            # label would be noise), so wrong retrievals are left out.
        # near-miss negatives
        out = [e for i, e in enumerate(entries) if i % holdout_every == fold % holdout_every]
        out_ids = {e.id for e in out}
        index = SearchIndex([e for e in entries if e.id not in out_ids], analyzer)
        for e in out:
            for q in (e.question, *e.alternatives):
                r = kb.retrieve(index, q)
                if not r.reason:
                    rows.append((r.features, 0, "neg"))
    return rows


def fit_logistic(X: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, steps: int = 4000, lr: float = 0.5):
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z = (X - mu) / sd
    w = np.zeros(Z.shape[1])
    b = 0.0
    pos_w = (len(y) - y.sum()) / max(y.sum(), 1)  # balance classes
    sw = np.where(y == 1, pos_w, 1.0)
    sw = sw / sw.mean()
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(Z @ w + b)))
        g = (p - y) * sw
        w -= lr * (Z.T @ g / len(y) + l2 * w)
        b -= lr * g.mean()
    # back to raw feature scale
    return w / sd, b - float((w * mu / sd).sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", default=str(DEFAULT_ENTRIES_DIR))
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()
    report = check_knowledge_base(entries_dir=args.entries, seeds_dir=DEFAULT_SEEDS_DIR)
    entries = [e for e in report.entries if e.id not in report.invalid_ids]
    rows = synthetic_rows(entries, folds=args.folds)
    names = calibration.FEATURES
    X = np.array([[f[n] for n in names] for f, _, _ in rows], dtype=float)
    y = np.array([lab for _, lab, _ in rows], dtype=float)
    kinds = [k for _, _, k in rows]
    print(f"{len(rows)} rows: {int(y.sum())} positive, {len(y) - int(y.sum())} negative "
          f"({kinds.count('neg')} questions of held-out entries)")
    for j, n in enumerate(names):
        print(f"  {n:16s} pos mean {X[y == 1, j].mean():.3f}  neg mean {X[y == 0, j].mean():.3f}")
    w, b = fit_logistic(X, y)
    print("WEIGHTS = {" + ", ".join(f'"{n}": {wi:.3f}' for n, wi in zip(names, w)) + "}")
    print(f"BIAS = {b:.3f}")
    z = X @ w + b
    p = 1 / (1 + np.exp(-z))
    for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        tp = ((p >= t) & (y == 1)).sum() / max(y.sum(), 1)
        tn = ((p < t) & (y == 0)).sum() / max((y == 0).sum(), 1)
        print(f"  threshold {t:.1f}: positives accepted {tp:.3f}, negatives rejected {tn:.3f}")


if __name__ == "__main__":
    main()
