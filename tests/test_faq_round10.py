"""FAQ round 10: general fixes found from the owner_probes12 misses (knowledge/, round10_causes.md).
The questions here are the team's own wording, not the evaluation sets'."""
from __future__ import annotations

import pytest

from knowledge.service import KnowledgeBase
from tests.conftest import REPO, SEEDS


@pytest.fixture(scope="module")
def kb():
    return KnowledgeBase.load(REPO / "knowledge" / "entries", SEEDS, strict=True)


def _answered(kb, question: str, entry_id: str, role: str | None = None) -> None:
    res = kb.ask(question, role=role)
    assert res.matched and res.entry_id == entry_id, (question, res.band, res.entry_id, res.score)


def test_an_askers_own_figure_is_covered_by_the_rule_in_its_unit(kb):
    # 「4場」 is compared with the entry's 「至少3場」: the number itself is in no document.
    _answered(kb, "知能活動辦4場就夠嗎", "gh-workshops", role="staff")
    _answered(kb, "普及帶40家 意向書要附幾份", "gh-loi-proposal-share", role="staff")
