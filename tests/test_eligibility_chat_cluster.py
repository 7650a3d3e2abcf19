"""數位群聚 roster check in chat (FlowId.CLUSTER_CHECK): the dev-set cluster-2022 scenarios, with
the roster pasted as CSV built from each scenario's ``answers`` (labels as the header row)."""
from __future__ import annotations

import pytest
from sqlmodel import select

from bot.models import Conversation
from bot.texts import t
from tests.conftest import joined
from tests.test_eligibility_chat import SCENARIOS, chat  # noqa: F401 (steady chat fixture)
from tests.test_eligibility_helpers import cluster

CLUSTER = [s for s in SCENARIOS if s["program"] == "cluster-2022"]
PROGRAM = cluster()
MEMBER_FIELDS = PROGRAM.fields["members"]["member_fields"]


def roster_csv(members: list[dict]) -> str:
    keys = list(MEMBER_FIELDS)
    lines = [",".join(MEMBER_FIELDS[k]["label"] for k in keys)]
    for member in members:
        cells = []
        for key in keys:
            value = member.get(key)
            cells.append("是" if value is True else "否" if value is False else str(value or ""))
        lines.append(",".join(cells))
    return "\n".join(lines)


def cluster_step(chat) -> str | None:
    with chat.runtime.database.session() as session:
        row = session.exec(select(Conversation).where(Conversation.line_user_id == chat.user_id)).first()
        return row.step if row and row.flow == "cluster_check" else None


def drive_cluster(chat, answers: dict) -> list[str]:
    texts: list[str] = []
    for _ in range(10):
        step = cluster_step(chat)
        if step is None:
            return texts
        if step == "category":
            texts = chat.tap(PROGRAM.fields["category"]["choices"][answers["category"]])
        elif step == "participated_last_year":
            texts = chat.tap(t("eligibility.answer_yes") if answers["participated_last_year"] else t("eligibility.answer_no"))
        elif step == "previous_roster_size":
            texts = chat.say(f"{answers['previous_roster_size']}家")
        elif step == "members":
            texts = chat.say(roster_csv(answers["members"]))
        elif step == "_summary":
            texts = chat.tap(t("core.summary_confirm"))
    raise AssertionError("roster check did not end")


def begin_cluster(chat) -> None:
    """Follow, ask 「群聚名單檢查」, agree to the privacy statement: the category question."""
    chat.follow()
    chat.say("群聚名單檢查")
    chat.tap("同意")
    assert cluster_step(chat) == "category"


@pytest.mark.parametrize("scenario", CLUSTER, ids=[s["id"] for s in CLUSTER])
def test_dev_set_rosters_through_chat(app, chat, scenario):
    begin_cluster(chat)
    texts = drive_cluster(chat, scenario["answers"])
    assert t(f"eligibility.verdict_title_{scenario['verdict']}") in joined(texts), joined(texts)


def test_roster_with_missing_column_is_explained(app, chat):
    begin_cluster(chat)
    chat.tap(PROGRAM.fields["category"]["choices"]["A"])
    texts = chat.say("企業名稱,統一編號\n甲店,21556433")
    assert "負責人" in joined(texts)
    assert cluster_step(chat) == "members"


def test_roster_with_an_unreadable_cell_names_the_line(app, chat):
    begin_cluster(chat)
    chat.tap(PROGRAM.fields["category"]["choices"]["A"])
    texts = chat.say("企業名稱,負責人,符合中小企業認定標準\n甲店,王小明,是\n乙店,陳大華,不確定")
    assert t("eligibility.invalid_members_cell", line=3, value="不確定") in joined(texts)
    assert cluster_step(chat) == "members"  # nothing kept: the whole roster is pasted again
