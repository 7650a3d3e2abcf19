"""FAQ in chat, end to end: real SDK -> fake LINE over HTTP (the ``chat`` fixture)."""
from __future__ import annotations

import shutil

import pytest
import requests
from sqlmodel import select

from bot.models import RoleGrant
from bot.texts import t
from knowledge.models import UnansweredQuestion
from knowledge.service import KnowledgeBase
from tests.conftest import REPO, SEEDS, STAFF_TOKEN, joined
from tests.conftest import eventually  # noqa: E402

OWNER = "U" + "1" * 32
STAFF = "U" + "2" * 32
UNANSWERED = "顧問可以講台語嗎"  # a programme question the documents do not answer




def _grant_staff(app, user: str = STAFF) -> None:
    with app.extensions["bot"].database.session() as session:
        session.add(RoleGrant(line_user_id=user, role="staff", granted_by="test"))


def _rows(app) -> list[UnansweredQuestion]:
    with app.extensions["bot"].database.session() as session:
        rows = list(session.exec(select(UnansweredQuestion).order_by(UnansweredQuestion.id)).all())
        for row in rows:
            session.expunge(row)
        return rows


def _pushed_text(app, fake_line, user: str, needle: str) -> bool:
    def seen() -> bool:
        app.extensions["bot"].sender.deliver_due()
        return any(needle in text for text in fake_line.texts_for(user))
    return eventually(seen)


@pytest.fixture
def kb_copy(app, tmp_path):
    """A private copy of the entries, swapped in as the app's KB (edits must not touch the repo)."""
    services = app.extensions["bot"].services
    original = services.get("kb")
    entries = tmp_path / "entries"
    shutil.copytree(REPO / "knowledge" / "entries", entries)
    kb = KnowledgeBase.load(entries, SEEDS, strict=True)
    services.replace("kb", kb)
    yield kb
    services.replace("kb", original)


def test_confident_answer_has_source_and_related_quick_replies(chat):
    # An owner gets the shop's view of the budget (issue 17), with the unit's tiers one tap away.
    texts = chat.say("普及的補助上限是多少")
    answer = joined(texts)
    assert "150萬" in answer and "提案單位" in answer
    assert "來源：112年數位共好計畫提案作業規範" in answer
    actions = chat.actions()
    # the counterpart plus up to three related questions (knowledge.flows._answer keeps four at most)
    assert 2 <= len(actions) <= 4
    assert all(a["type"] == "message" for a in actions)
    # Tapping a related question asks it, and it is answered with its own source line.
    follow = chat.tap_action(actions[0])
    assert "來源：" in joined(follow)


def test_suggest_band_offers_top3_and_staff_option(app, chat, fake_line):
    _grant_staff(app)
    texts = chat.say("共好")  # only a programme name: too vague to answer outright
    assert "您是想問" in joined(texts)
    labels = chat.labels()
    assert len(labels) == 4 and labels[-1] == "都不是，請專人回覆"
    picked = chat.tap_action(chat.actions()[0])
    assert "來源：" in joined(picked)
    other = chat.as_user(OWNER)  # a fresh conversation (no previous topic to follow up on)
    other.say("共好")
    texts = other.tap("都不是")
    assert "承辦同仁" in joined(texts)
    rows = _rows(app)
    assert len(rows) == 1 and rows[0].question == "共好" and rows[0].reason == "declined"
    assert rows[0].candidates and rows[0].candidates[0]["entry_id"]
    assert _pushed_text(app, fake_line, STAFF, f"#{rows[0].id}")


def test_fallback_logs_and_tells_staff_once_then_api_answer_reaches_asker(app, chat, fake_line, live_server):
    _grant_staff(app)
    owner = chat.as_user(OWNER)
    texts = owner.say(UNANSWERED)
    assert "找不到" in joined(texts) and "承辦同仁" in joined(texts)
    owner.say(UNANSWERED)  # asked twice: still one open row, one staff notification
    assert "換個說法" in joined(owner.say("嗎？"))  # nothing to hand over: not logged
    rows = _rows(app)
    assert len(rows) == 1 and rows[0].line_user_id == OWNER and rows[0].status == "open"
    assert _pushed_text(app, fake_line, STAFF, UNANSWERED)
    assert sum(UNANSWERED in t for t in fake_line.texts_for(STAFF)) == 1

    url = f"{live_server.url}/staff/unanswered"
    assert requests.get(url, timeout=5, headers={"Authorization": "Bearer wrong"}).status_code == 403
    listed = requests.get(url, timeout=5, headers={"Authorization": f"Bearer {STAFF_TOKEN}"}).json()
    assert [q["question"] for q in listed["questions"]] == [UNANSWERED]
    qid = listed["questions"][0]["id"]
    response = requests.post(f"{url}/{qid}/answer", json={"answer": "活動地點有特約停車場，可折抵2小時。"},
                             headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=5)
    assert response.status_code == 200 and response.json()["pushed"] is True
    assert _pushed_text(app, fake_line, OWNER, "特約停車場")
    assert _rows(app)[0].status == "answered"
    bad = requests.post(f"{url}/{qid}/answer", json={"answer": ""},
                        headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=5)
    assert bad.status_code == 422


def test_staff_answers_in_chat_and_asker_gets_push(app, chat, fake_line):
    _grant_staff(app)
    owner = chat.as_user(OWNER)
    owner.say(UNANSWERED)
    qid = _rows(app)[0].id
    staff = chat.as_user(STAFF)
    listing = joined(staff.say("/回覆"))
    assert f"#{qid}" in listing
    done = joined(staff.say(f"/回覆 {qid} 現場有停車場喔"))
    assert f"#{qid}" in done
    assert _pushed_text(app, fake_line, OWNER, "現場有停車場喔")
    # Not staff: the command is refused and nothing changes.
    refused = joined(owner.say(f"/回覆 {qid} 亂回"))
    assert "無法使用" in refused
    assert _rows(app)[0].answer == "現場有停車場喔"
    # A number that is no open question is said in Chinese, with where to look.
    assert joined(staff.say("/回覆 9999 好的")) == t("faq.staff_reply_failed", id=9999, reason=t("faq.staff_error_not_found"))


def test_answer_added_as_phrasing_is_answered_next_time(app, chat, fake_line, kb_copy, live_server):
    question = UNANSWERED
    assert kb_copy.ask(question).band != "answer"
    owner = chat.as_user(OWNER)
    owner.say(question)
    qid = _rows(app)[0].id
    response = requests.post(f"{live_server.url}/staff/unanswered/{qid}/answer",
                             json={"answer": "顧問會配合店家，需要的話可以用台語。",
                                   "add_to_entry": "gh-consultant-visits"},
                             headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["added_to_entry"] == "gh-consultant-visits"
    assert question in kb_copy.entry("gh-consultant-visits").alternatives
    result = kb_copy.ask(question)
    assert result.matched and result.entry_id == "gh-consultant-visits"
    again = joined(chat.as_user("U" + "3" * 32).say(question))
    assert "來源：" in again
    # A phrasing that another entry already owns is refused and the file is left untouched.
    before = (kb_copy.entries_dir / "gonghao-2023").joinpath("eligibility.yaml").read_bytes()
    taken = kb_copy.entry("gh-eligibility-who").question
    with app.extensions["bot"].database.session() as session:
        session.add(UnansweredQuestion(line_user_id=OWNER, question=taken))
    qid2 = _rows(app)[-1].id
    response = requests.post(f"{live_server.url}/staff/unanswered/{qid2}/answer",
                             json={"answer": "x", "add_to_entry": "gh-integration-over-9"},
                             headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=5)
    assert response.status_code == 422
    assert (kb_copy.entries_dir / "gonghao-2023" / "eligibility.yaml").read_bytes() == before
    assert _rows(app)[-1].status == "open"


def test_follow_up_is_understood_against_previous_topic(chat):
    first = joined(chat.say("數位普及A級要輔導幾家"))
    assert "50" in first
    second = joined(chat.say("那共融呢？"))
    assert "30" in second and "40" in second  # 數位共融 A級 30-40家


def test_question_mid_demo_flow_is_answered_and_flow_resumes(chat):
    assert "客人" in joined(chat.say("數位小測驗"))
    texts = joined(chat.say("共好的提案截止是幾點？"))
    assert "17:00" in texts          # the FAQ answer
    assert "客人" in texts           # the pending question is asked again
    chat.tap("LINE官方帳號")
    assert "請確認" in joined(chat.say("20"))
    assert "小測驗完成" in joined(chat.tap("確認"))


def test_program_hint_from_context_decides(app, chat):
    # With no context the engine leans to 數位共好; a paused cluster intake makes it 群聚.
    from knowledge import flows

    class Ctx:
        flow = "cluster_check"
        data: dict = {}
        memory: dict = {}
        user_id = OWNER

    class Req:
        ctx = Ctx
        session = None

    assert flows.program_hint(Req) == "cluster-2022"
    Ctx.flow, Ctx.memory = None, {"paused": {"flow": "eligibility", "data": {}}}
    assert flows.program_hint(Req) == "gonghao-2023"


def test_readable_source():
    from knowledge.flows import readable_source

    assert readable_source("003 貳 申請資格") == "111年數位群聚輔導提案作業規範 申請資格"  # no section codes
    assert readable_source("002 附件一 計畫查核點") == "112年數位共好計畫提案作業規範 計畫查核點"
    assert readable_source("999 x") == "999 x"


def test_unnamed_programme_is_the_campaigns_and_a_named_one_is_answered(chat):
    # Both programmes answer it: this account recruits for 數位共好 (programs.yaml), so no
    # 「數位共好還是數位群聚？」 question; naming 群聚 gets 群聚's rule.
    texts = joined(chat.say("要幾家才能申請？"))
    assert "來源：112年數位共好計畫提案作業規範" in texts and "數位群聚" not in chat.labels()
    assert "來源：111年數位群聚輔導提案作業規範" in joined(chat.say("群聚要幾家才能申請？"))


def test_company_programme_settles_ambiguous_question(app, chat):
    from companies.models import Company, CompanyMember

    with app.extensions["bot"].database.session() as session:
        company = Company(name="阿明小吃", program_id="cluster-2022")
        session.add(company)
        session.flush()
        session.add(CompanyMember(company_id=company.id, line_user_id=chat.user_id, role="owner"))
    answer = joined(chat.say("要幾家才能申請？"))
    assert "來源：111年數位群聚" in answer and "數位共好" not in chat.labels()


def test_staff_answer_saved_as_new_entry(app, chat, kb_copy, live_server):
    owner = chat.as_user(OWNER)
    owner.say(UNANSWERED)
    qid = _rows(app)[0].id
    response = requests.post(f"{live_server.url}/staff/unanswered/{qid}/answer",
                             json={"answer": "說明會場地有特約停車場，可以折抵2小時。", "add_as_entry": True,
                                   "answered_by": "lin"},
                             headers={"Authorization": f"Bearer {STAFF_TOKEN}"}, timeout=5)
    assert response.status_code == 200, response.text
    entry_id = response.json()["added_to_entry"]
    assert (kb_copy.entries_dir / "staff-answers" / f"{entry_id}.yaml").exists()
    answer = joined(chat.as_user("U" + "3" * 32).say(UNANSWERED))
    assert "特約停車場" in answer and "來源：承辦同仁回覆" in answer


def test_stale_programme_button_and_a_decline_with_nothing_pending(chat):
    # A programme button from an earlier version of the bot, tapped with nothing pending.
    from bot.messages import encode_postback

    assert "請直接打字再問一次" in joined(chat.send("postback", data=encode_postback(c="faq_program", arg="cluster-2022")))
    assert "請直接打字告訴我您想問的問題" in joined(chat.say("都不是"))


def test_staff_adds_a_phrasing_in_chat(app, chat, kb_copy):
    _grant_staff(app)
    question = UNANSWERED
    owner = chat.as_user(OWNER)
    owner.say(question)
    qid = _rows(app)[0].id
    staff = chat.as_user(STAFF)
    # The staff alert about the owner's question is delivered first (under load it could otherwise
    # arrive during one of the replies compared below).
    staff.settle_outbox()
    assert "格式：/加入題庫" in joined(staff.say(f"/加入題庫 {qid}"))
    assert joined(staff.say(f"/加入題庫 {qid} no-such-entry")) == t("faq.staff_add_failed", reason=t("faq.staff_error_unknown_entry"))
    assert "無法使用" in joined(owner.say(f"/加入題庫 {qid} gh-consultant-visits"))  # not staff
    assert kb_copy.ask(question).entry_id != "gh-consultant-visits"
    done = joined(staff.say(f"/加入題庫 {qid} gh-consultant-visits"))
    assert f"#{qid}" in done and "題庫已更新" in done
    assert question in kb_copy.entry("gh-consultant-visits").alternatives
    assert _rows(app)[0].added_to_entry == "gh-consultant-visits"
    assert "來源：" in joined(chat.as_user("U" + "3" * 32).say(question))
