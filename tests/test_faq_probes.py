"""Accuracy gates: the public dev set (issue 4 targets) and the team's own paraphrase probes
(tests/fixtures/faq_probes.jsonl, written without the dev questions) so tuning generalises."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.service import KnowledgeBase
from tests.conftest import EVAL, REPO, SEEDS
from tools.eval_faq import evaluate, evaluate_probes

DEV = EVAL / "faq_dev.jsonl"
PROBES = REPO / "tests" / "fixtures" / "faq_probes.jsonl"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def kb():
    return KnowledgeBase.load(REPO / "knowledge" / "entries", SEEDS, strict=True)


def test_dev_set_meets_issue_targets(kb):
    res = evaluate(kb, _rows(DEV))
    assert res["correct"] / res["in_scope"] >= 0.95, res["misses"]
    assert res["rejected"] / res["oos"] >= 0.90, res["false_accepts"]


def test_own_probes_generalise(kb):
    rows = _rows(PROBES)
    assert sum(r.get("kind") != "out_of_scope" for r in rows) >= 40
    res = evaluate_probes(kb, rows)
    assert res["correct"] / res["in_scope"] >= 0.85, res["misses"]
    assert res["top3"] / res["in_scope"] >= 0.95, res["misses"]
    assert res["rejected"] / res["oos"] >= 0.90, res["false_accepts"]


def test_probes_do_not_copy_dev_questions():
    dev = {r["q"] for r in _rows(DEV)}
    assert not dev & {r["q"] for r in _rows(PROBES)}


def test_entries_do_not_contain_eval_questions(kb):
    """Evaluation sets measure the bot; none of their questions may become a phrasing of an entry."""
    from knowledge.normalize import normalize_text

    phrasings = {normalize_text(p) for e in kb.entries for p in (e.question, *e.alternatives)}
    rows = [r for path in sorted(EVAL.glob("faq_*.jsonl")) for r in _rows(path)] + _rows(PROBES)
    copied = [r["q"] for r in rows if normalize_text(r["q"]) in phrasings]
    assert not copied
