"""前測／後測: the link to each signed owner at the right time (and to a company that signs later),
「已完成」/「還沒」 (past the due date here), the programme office's list by 統編 with its bad rows, chases of the missing
(owner and advisor) once each, the pending audience re-checked at send, and the checkpoint
figures."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlmodel import select

from assessments import service
from assessments.models import Completion
from bot.messages import encode_postback
from bot.timeutil import TAIPEI
from companies.models import Company
from scheduler.models import Reminder
from scheduler.scheduled import tick
from tests.conftest import joined
from tests.test_activities import ADVISOR, person, signed_company, uid

# programs.yaml capability_tests.pretest: opens 112/06/01 10:00, due 112/06/20 17:00, chase 7d/2d.
OPENS = datetime(2023, 6, 1, 10, 0, tzinfo=TAIPEI)
TAX_IDS = ("10000004", "10000009", "10000010", "10000015")


def _campaign(app) -> dict[str, int]:
    """Owners 1–3 of signed companies (advisor assigned), owner 4 of a company not signed yet."""
    ids = {}
    with app.extensions["bot"].database.session() as session:
        person(session, ADVISOR, role="advisor")
        for n in (1, 2, 3, 4):
            person(session, uid(n))
            company = signed_company(session, n, owner=uid(n))
            company.tax_id = TAX_IDS[n - 1]
            if n == 4:
                company.letter_status = "none"
            ids[n] = company.id
    return ids


def _texts(fake_line, user_id: str, word: str) -> list[str]:
    return [t for t in fake_line.texts_for(user_id) if word in t]


def test_links_answers_import_chases_and_checkpoint_figures(app, chat, fake_line, tmp_path):
    ids = _campaign(app)
    tick(app, now=OPENS - timedelta(hours=1))  # not open yet: nothing
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Reminder).where(Reminder.key.like("personal:assess%"))).all() == []
    tick(app, now=OPENS)
    tick(app, now=OPENS + timedelta(minutes=1))  # a second tick sends nothing twice
    for n in (1, 2, 3):
        links = _texts(fake_line, uid(n), "數位能力評量前測")
        assert len(links) == 1 and "https://example.org/capability/pretest" in links[0]
    assert _texts(fake_line, uid(4), "前測") == []  # not signed: no link
    message = next(m for m in fake_line.messages_for(uid(1)) if "前測" in m.get("text", ""))
    assert [i["action"]["label"] for i in message["quickReply"]["items"]] == ["已完成", "還沒"]
    # 「已完成」 (the link's button) is recorded once; 「還沒」 gets the due date and the link again.
    owner = chat.as_user(uid(1))
    assert "已記錄「店1」完成數位能力評量前測" in joined(owner.send("postback", data=encode_postback(c="assess_done", arg="pretest")))
    assert "已經在" in joined(owner.say("已完成前測"))
    later = joined(chat.as_user(uid(2)).send("postback", data=encode_postback(c="assess_later", arg="pretest")))
    # (The chat runs on today's clock, past this demo campaign's 112/06/20: the owner is told so.)
    assert "期限已經過了" in later and "https://example.org/capability/pretest" in later
    assert "找不到您登記為負責人的公司" in joined(chat.as_user(uid(9)).say("已完成前測"))
    # Company 4 signs later: its owner gets the link on the next tick.
    with app.extensions["bot"].database.session() as session:
        session.get(Company, ids[4]).letter_status = "signed"
    tick(app, now=OPENS + timedelta(days=1))
    chat.as_user(uid(4)).settle_outbox()  # the chat's pump may be sending the tick's push just now
    assert len(_texts(fake_line, uid(4), "數位能力評量前測")) == 1
    # The programme office's list: company 3, plus an unknown 統編, a bad one, a repeat, company 1 again.
    sheet = tmp_path / "pretest.csv"
    sheet.write_text("統一編號,企業名稱,完成日期\n10000010,店3,112/06/05\n10000026,別家,112/06/05\n"
                     "1234,錯的,112/06/05\n10000010,店3,112/06/06\n10000004,店1,112/06/07\n", encoding="utf-8-sig")
    result = app.test_cli_runner().invoke(args=["assessments", "import", str(sheet), "--test", "pretest", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["imported"], report["unknown"], report["invalid"], report["duplicates"]) == (1, 1, 1, 2)
    bad = app.test_cli_runner().invoke(args=["assessments", "import", str(sheet)])
    assert bad.exit_code != 0 and "--test" in bad.output  # no test column and no --test: nothing read
    with app.extensions["bot"].database.session() as session:
        done = {(r.company_id, r.source): r.completed_at for r in session.exec(select(Completion)).all()}
    assert set(done) == {(ids[1], "owner"), (ids[3], "import")}
    assert done[(ids[3], "import")].astimezone(TAIPEI).date().isoformat() == "2023-06-05"
    # Chase at 7 days before (09:00 on 06/13): only owners still missing, once; their advisor gets the list.
    chase_at = datetime(2023, 6, 13, 9, 5, tzinfo=TAIPEI)
    for _ in range(2):
        tick(app, now=chase_at)
    assert len(_texts(fake_line, uid(2), "還沒收到您的完成回覆")) == 1 and "剩 7 天" in _texts(
        fake_line, uid(2), "還沒收到")[0]
    assert len(_texts(fake_line, uid(4), "還沒收到您的完成回覆")) == 1
    assert _texts(fake_line, uid(1), "還沒收到") == [] and _texts(fake_line, uid(3), "還沒收到") == []
    digest = _texts(fake_line, ADVISOR, "您輔導的企業還有")
    assert len(digest) == 1 and "還有 2 家" in digest[0] and "・店2" in digest[0] and "店1" not in digest[0]
    # The checkpoints count it: company 1 (said so) and 3 (the office's list) of the four.
    result = app.test_cli_runner().invoke(args=["checkpoints", "--json"])
    kpis = {k["id"]: k for k in json.loads(result.output)["kpis"]}
    assert kpis["pretest"]["done"] == 2 and kpis["pretest"]["detail"] == "計畫名單 1 家、店家回報 1 家"
    assert kpis["posttest"]["done"] == 0 and kpis["posttest"]["status"] != "not_tracked"
    rows = {row["name"]: row for row in json.loads(result.output)["companies"]}
    assert rows["店1"]["kpis"]["pretest"] is True and "pretest" in rows["店2"]["missing"]


def test_a_link_held_by_quiet_hours_is_not_sent_to_someone_done_meanwhile(app, chat, fake_line):
    _campaign(app)
    night = datetime(2023, 6, 3, 22, 0, tzinfo=TAIPEI)
    tick(app, now=night)  # planned, held until 08:00
    assert _texts(fake_line, uid(1), "數位能力評量前測") == []
    with app.extensions["bot"].database.session() as session:
        company = session.exec(select(Company).where(Company.name == "店1")).one()
        assert service.record(session, company_id=company.id, test="pretest", source="staff", recorded_by="test")
        assert not service.record(session, company_id=company.id, test="pretest", source="import", recorded_by="t")
    tick(app, now=night + timedelta(hours=10, minutes=1))
    assert _texts(fake_line, uid(1), "數位能力評量前測") == []
    assert len(_texts(fake_line, uid(2), "數位能力評量前測")) == 1
    with app.extensions["bot"].database.session() as session:
        skipped = session.exec(select(Reminder.outcome).where(Reminder.recipient == uid(1))).all()
    assert skipped == ["no longer concerned"]


def test_done_typed_in_words_under_the_link(app, chat, monkeypatch):
    """「填好了」 typed under the link instead of tapping 「已完成」 records the test that is open."""
    import bot.dispatcher

    ids = _campaign(app)
    monkeypatch.setattr(bot.dispatcher, "utc_now", lambda: OPENS + timedelta(days=2))  # pretest open, posttest not yet
    owner = chat.as_user(uid(1))
    assert "已記錄「店1」完成數位能力評量前測" in joined(owner.say("填好了！"))
    assert "已記錄" not in joined(owner.say("已完成"))  # nothing left open: not a record any more
    assert "已記錄" not in joined(chat.as_user(uid(4)).say("填好了"))  # letter not signed: no test for it
    with app.extensions["bot"].database.session() as session:
        rows = session.exec(select(Completion)).all()
    assert [(r.company_id, r.test, r.source) for r in rows] == [(ids[1], "pretest", "owner")]
