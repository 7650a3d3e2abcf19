"""Tool adoption and normal use in chat, end to end (signed webhooks, the fake Messaging API, a
real database): an advisor records in one message, the owner confirms, the confirmation sets
Company.tool_adopted_at; bad input changes nothing; only advisors (their own companies) and staff
record, only the company's own people answer; monthly usage with flags and screenshots."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import select

from bot.texts import t

from adoption.models import ToolAdoption, UsageReport, UsageScreenshot
from adoption.parse import parse_adoption_message, resolve_day
from bot.models import AuditEntry, RoleGrant
from bot.timeutil import TAIPEI
from checkpoints.settings import Tool
from companies.models import Company, CompanyMember
from tests.conftest import _button_actions, eventually, joined
from visits.parse import CompanyRef

ADVISOR = "U" + "d" * 32
OTHER_ADVISOR = "U" + "9" * 32
STAFF = "U" + "5" * 32
OWNER = "U" + "e" * 32
OTHER_OWNER = "U" + "f" * 32
PERIOD = (date(2023, 4, 1), date(2023, 11, 30))
TOOLS = [Tool("pos", "雲端 POS 收銀系統", ("POS", "收銀")), Tool("line_member", "LINE 會員集點與訂位", ("LINE官方帳號", "集點"))]
REFS = [CompanyRef(1, "好味道小吃", "12345675"), CompanyRef(2, "阿明咖啡館", "24536806")]
JPEG = b"\xff\xd8\xff" + b"j" * 200


# --- pure parsing ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, company, tools, day", [
    ("導入 好味道小吃 LINE官方帳號 7/20", [1], ["line_member"], date(2023, 7, 20)),
    ("導入 12345675 pos 112/7/20", [1], ["pos"], date(2023, 7, 20)),
    ("記錄導入 阿民咖啡館 LINE 官方帳號 和 POS 2023-06-01", [2], ["line_member", "pos"], date(2023, 6, 1)),
])
def test_parse_one_message(text, company, tools, day):
    parsed = parse_adoption_message(text, today=date(2024, 1, 5), companies=REFS, tools=TOOLS, period=PERIOD)
    assert (parsed.company_ids, parsed.tool_ids, parsed.day) == (company, tools, day)


def test_a_month_and_day_is_read_inside_the_programme():
    # Typed in January 2024, 「7/20」 for the 112年 programme is 2023/07/20; 「2/3」 fits no year of it.
    assert resolve_day("7/20", today=date(2024, 1, 5), period=PERIOD) == date(2023, 7, 20)
    assert resolve_day("2/3", today=date(2024, 1, 5), period=PERIOD) == date(2024, 2, 3)
    # A Friday: 「上週五」 is the one a week ago, 「週三」 two days ago (a tool started in the past).
    assert resolve_day("上週五", today=date(2023, 7, 21), period=PERIOD) == date(2023, 7, 14)
    assert resolve_day("週三", today=date(2023, 7, 21), period=PERIOD) == date(2023, 7, 19)
    unknown = parse_adoption_message("導入 好味道小吃 雲端記帳 7/20", today=date(2024, 1, 5), companies=REFS,
                                     tools=TOOLS, period=PERIOD)
    assert unknown.tool_ids == [] and unknown.other_text == "雲端記帳" and unknown.company_ids == [1]


# --- chat ----------------------------------------------------------------------------------

def _setup(app) -> dict[str, int]:
    ids = {}
    with app.extensions["bot"].database.write_session() as session:
        session.add(RoleGrant(line_user_id=ADVISOR, role="advisor", granted_by="test"))
        session.add(RoleGrant(line_user_id=OTHER_ADVISOR, role="advisor", granted_by="test"))
        session.add(RoleGrant(line_user_id=STAFF, role="staff", granted_by="test"))
        for name, tax_id, advisor, owner in (("好味道小吃", "12345675", ADVISOR, OWNER),
                                             ("阿明咖啡館", "24536806", ADVISOR, None),
                                             ("別人的店", "04595257", OTHER_ADVISOR, OTHER_OWNER)):
            company = Company(name=name, tax_id=tax_id, advisor_line_user_id=advisor, verdict="eligible",
                              letter_status="signed")
            session.add(company)
            session.flush()
            if owner:
                session.add(CompanyMember(company_id=company.id, line_user_id=owner, role="owner"))
            ids[name] = company.id
        # A 數位群聚 company (a programme without tools) among staff's: 「7/1」 still reads in 數位共好's year.
        session.add(Company(name="群聚成員店", tax_id="53212539", program_id="cluster-2022", verdict="eligible"))
    return ids


def _people(app, chat, *users):
    chats = [chat.as_user(user) for user in users]
    for person in chats:
        person.follow()
    return chats


def _adoptions(app) -> list[ToolAdoption]:
    with app.extensions["bot"].database.session() as session:
        return list(session.exec(select(ToolAdoption).order_by(ToolAdoption.id)).all())


def _company(app, company_id: int) -> Company:
    with app.extensions["bot"].database.session() as session:
        return session.get(Company, company_id)


def _pushed(app, fake_line, user: str, words: str) -> list[dict]:
    """The messages pushed to ``user`` that contain ``words`` (after the outbox delivered them)."""
    sender = app.extensions["bot"].sender

    def found():
        sender.deliver_due()
        return [m for m in fake_line.messages_for(user) if m["_via"] != "reply" and words in _text(m)]
    eventually(lambda: bool(found()), timeout=5)
    return found()


def _text(message: dict) -> str:
    from bot.devmode.fake_line import message_text

    return message_text(message)


def test_one_message_records_and_the_owners_answer_is_the_evidence(app, chat, fake_line):
    ids = _setup(app)
    advisor, owner = _people(app, chat, ADVISOR, OWNER)
    text = joined(advisor.say("導入 好味道小吃 LINE官方帳號 7/20"))
    assert "導入已記錄" in text and "112/07/20" in text and "LINE 會員集點與訂位" in text
    assert "已請店家確認" in text
    [row] = _adoptions(app)
    assert (row.status, row.tool_id, row.started_on, row.recorded_by) == ("pending", "line_member", date(2023, 7, 20), ADVISOR)
    assert _company(app, ids["好味道小吃"]).tool_adopted_at is None  # not before the owner says so

    [card] = _pushed(app, fake_line, OWNER, "請確認工具導入")
    buttons = _button_actions(card["contents"])
    assert [b["label"] for b in buttons] == ["是，已開始使用", "還沒"]
    texts = owner.tap_action(buttons[0])
    assert "謝謝您的確認" in joined(texts)
    [row] = _adoptions(app)
    assert row.status == "confirmed" and row.answered_by == OWNER
    assert _company(app, ids["好味道小吃"]).tool_adopted_at == datetime(2023, 7, 20, tzinfo=TAIPEI)
    assert _pushed(app, fake_line, ADVISOR, "已確認從 112/07/20 開始使用")
    assert "已經回覆過了" in joined(owner.tap_action(buttons[1]))  # a second tap changes nothing
    assert _adoptions(app)[0].status == "confirmed"


def test_bad_input_gets_a_clear_message_and_changes_nothing(app, chat, fake_line):
    _setup(app)
    [advisor] = _people(app, chat, ADVISOR)
    texts = joined(advisor.say("導入 不存在的店 POS 7/20"))
    assert "找不到「不存在的店」" in texts and "好味道小吃" in advisor.labels()
    advisor.say("取消")
    assert "不是指派給您的店家" in joined(advisor.say("導入 04595257 POS 7/20"))
    advisor.say("取消")
    texts = joined(advisor.say("導入 好味道小吃 雲端記帳 7/20"))
    assert "「雲端記帳」不在這次計畫的工具清單裡" in texts and "雲端 POS 收銀系統" in advisor.labels()
    advisor.say("取消")
    texts = joined(advisor.say("導入 好味道小吃 POS 112/12/25"))
    assert "112/12/25 不在計畫的輔導期間（112/04/01–112/11/30）內" in texts and "哪一天開始使用" in texts
    assert "還沒到" in joined(advisor.say("2099/1/1"))  # the same question asked again
    advisor.say("取消")
    assert _adoptions(app) == []

    advisor.say("導入 好味道小吃 POS 7/20")
    texts = joined(advisor.say("導入 好味道小吃 收銀 8/1"))
    assert "已經記錄過這些工具" in texts and "雲端 POS 收銀系統（112/07/20 開始，等店家確認）" in texts
    assert len(_adoptions(app)) == 1
    # A sticker mid-question gets a nudge, the question again, and keeps what was answered.
    advisor.say("導入 好味道小吃 LINE官方帳號")
    texts = joined(advisor.send("sticker"))
    assert "哪一天開始使用" in texts
    assert "導入已記錄" in joined(advisor.say("7/25"))
    assert [a.tool_id for a in _adoptions(app)] == ["pos", "line_member"]


def test_only_advisors_and_staff_record_and_only_the_company_answers(app, chat, fake_line):
    ids = _setup(app)
    advisor, owner, other_owner, staff = _people(app, chat, ADVISOR, OWNER, OTHER_OWNER, STAFF)
    assert "由專案顧問登錄" in joined(owner.say("導入 好味道小吃 POS 7/20"))
    answer = joined(owner.say("導入雲端工具要多久？"))  # a question, not an attempt: the FAQ answers
    assert "由專案顧問登錄" not in answer and answer
    assert _adoptions(app) == []

    advisor.say("導入 好味道小吃 POS 7/20")
    [card] = _pushed(app, fake_line, OWNER, "請確認工具導入")
    forged = _button_actions(card["contents"])[0]
    assert "不是您店家的" in joined(other_owner.tap_action(forged))  # someone else's company
    assert "不是您店家的" in joined(advisor.tap_action(forged))  # the advisor cannot confirm for the owner
    assert _adoptions(app)[0].status == "pending" and _company(app, ids["好味道小吃"]).tool_adopted_at is None
    with app.extensions["bot"].database.session() as session:
        refused = session.exec(select(AuditEntry).where(AuditEntry.action == "adoption_answer_refused")).all()
    assert {entry.actor for entry in refused} == {OTHER_OWNER, ADVISOR}

    # Staff may record for any company; another advisor's company stays closed to this advisor.
    texts = joined(staff.say("導入 99999999 POS 7/1"))
    assert "找不到統編 99999999 的店家" in texts and "指派" not in texts  # staff are the ones who assign
    assert "找不到「不存在的店」這家店" in joined(staff.say("導入 不存在的店 POS 7/1"))
    staff.say("取消")
    assert "導入已記錄" in joined(staff.say("導入 別人的店 POS 7/1"))
    assert "不是指派給您的店家" in joined(advisor.say("導入 04595257 LINE官方帳號 7/1"))
    assert [(a.company_id, a.recorded_by) for a in _adoptions(app)] == [(ids["好味道小吃"], ADVISOR),
                                                                       (ids["別人的店"], STAFF)]


def test_declined_then_recorded_again_and_typed_answers(app, chat, fake_line):
    ids = _setup(app)
    advisor, owner = _people(app, chat, ADVISOR, OWNER)
    advisor.say("導入 好味道小吃 POS 7/20")
    assert "已經告訴顧問" in joined(owner.say("還沒開始使用"))
    assert _pushed(app, fake_line, ADVISOR, "回覆還沒開始使用 雲端 POS 收銀系統")
    assert "導入已記錄" in joined(advisor.say("導入 好味道小吃 POS 8/2"))  # a declined one may be recorded again
    assert "謝謝您的確認" in joined(owner.say("是，已開始使用"))
    assert [a.status for a in _adoptions(app)] == ["declined", "confirmed"]
    assert _company(app, ids["好味道小吃"]).tool_adopted_at == datetime(2023, 8, 2, tzinfo=TAIPEI)
    assert "沒有等您確認" in joined(owner.say("已開始使用"))
    # A company with nobody on LINE yet: recorded, and the advisor is told nobody can confirm.
    assert "無法請店家確認" in joined(advisor.say("導入 阿明咖啡館 POS 7/3"))


def test_a_visit_card_offers_to_record_adoption(app, chat, fake_line):
    ids = _setup(app)
    [advisor] = _people(app, chat, ADVISOR)
    advisor.say("訪視 12345675 現地 7/10 14:00 POS教學 1.5小時")
    assert "記錄導入" in advisor.labels()
    assert "開始使用哪一項工具" in joined(advisor.tap("記錄導入"))  # the company is known from the visit
    advisor.tap("雲端 POS 收銀系統")
    assert "導入已記錄" in joined(advisor.say("7/10"))
    [row] = _adoptions(app)
    assert (row.company_id, row.via) == (ids["好味道小吃"], "visit")


def _adopted(app, company_id: int) -> None:
    with app.extensions["bot"].database.write_session() as session:
        company = session.get(Company, company_id)
        company.tool_adopted_at = datetime(2023, 7, 20, tzinfo=TAIPEI)
        session.add(company)


def test_usage_report_figure_screenshot_and_flags(app, chat, fake_line):
    ids = _setup(app)
    advisor, owner, staff = _people(app, chat, ADVISOR, OWNER, STAFF)
    assert "工具導入確認之後才需要回報" in joined(owner.say("回報使用量"))
    _adopted(app, ids["好味道小吃"])
    # The monthly ask's button names the company and the month.
    texts = joined(owner.send("postback", data=f"c=usage_report&arg={ids['好味道小吃']}:2023-07"))
    assert "請回報 好味道小吃 112/07的「每月開立電子發票張數」" in texts
    texts = joined(owner.say("12張"))
    assert "已記錄 好味道小吃 112/07的「每月開立電子發票張數」：12 張" in texts and "低於計畫的常態使用標準" in texts
    assert _pushed(app, fake_line, ADVISOR, "使用量偏低：好味道小吃 112/07")
    assert _pushed(app, fake_line, STAFF, "低於常態使用標準 30 張")

    owner.send("postback", data=f"c=usage_report&arg={ids['好味道小吃']}:2023-07")
    file_event = owner.event("text")
    file_event["message"] = {"type": "file", "id": "m-file-1", "fileName": "報表.pdf", "fileSize": 1200}
    assert "這是檔案，不是圖片" in joined(owner.send_event(file_event))
    fake_line.contents["m-not-image"] = (b"%PDF-1.4 not an image", "image/jpeg")
    assert "這張圖片打不開" in joined(owner.send("image", message_id="m-not-image"))
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(UsageScreenshot)).all() == []
    fake_line.contents["m-shot-1"] = (JPEG, "image/jpeg")
    assert "截圖收到了" in joined(owner.send("image", message_id="m-shot-1"))
    assert "：45 張" in joined(owner.say("45"))
    with app.extensions["bot"].database.session() as session:
        [report] = session.exec(select(UsageReport)).all()
        [shot] = session.exec(select(UsageScreenshot)).all()
    assert (report.period, report.figure, report.minimum, report.meets_minimum) == ("2023-07", 45, 30, True)
    assert (shot.report_id, shot.mime, shot.size) == (report.id, "image/jpeg", len(JPEG))
    # The figure in the owners' words: 「3k」 is 3,000 (not 3, flagged as below), 「大約三十張」 is 30.
    owner.send("postback", data=f"c=usage_report&arg={ids['好味道小吃']}:2023-08")
    texts = joined(owner.say("3k"))
    assert "：3000 張" in texts and "低於" not in texts
    owner.send("postback", data=f"c=usage_report&arg={ids['好味道小吃']}:2023-09")
    assert "：30 張" in joined(owner.say("大約三十張"))
    # Another person's company cannot be reported through a forged button.
    other = chat.as_user(OTHER_OWNER)
    other.follow()
    assert "目前沒有需要回報使用量的店家" in joined(other.send(
        "postback", data=f"c=usage_report&arg={ids['好味道小吃']}:2023-07"))


@pytest.mark.parametrize("text, said", [
    ("這個月發票開了50張", (50, "this_month", True)),
    ("上個月電子發票開了八十張", (80, "last_month", True)),
    ("這禮拜用POS結帳120筆", (120, "part", False)),
    ("收銀今天刷了 35 筆", (35, "part", False)),
    ("POS用了三個月", None),  # how long, not how much
    ("發票一個月要開幾張？", None),  # a question
    ("這個月營業額30萬", None),  # a custom KPI's figure (kpis.flows)
    ("發票開了50張跟30張", None),  # two figures: which?
])
def test_a_usage_figure_said_in_words(text, said):
    from adoption.parse import said_usage

    found = said_usage(text, words=("發票",), unit="張", tools=TOOLS)
    assert (found and (found.figure, found.span, found.measure)) == said


def test_an_owners_usage_figure_in_chat_is_recorded_not_a_ticket(app, chat, fake_line, monkeypatch):
    # 「這個月發票開了50張」 got an FAQ answer about hardware, 「這禮拜用POS結帳120筆」 a staff ticket.
    import bot.dispatcher
    from knowledge.models import UnansweredQuestion

    ids = _setup(app)
    owner, other = _people(app, chat, OWNER, OTHER_OWNER)
    _adopted(app, ids["好味道小吃"])
    august = datetime(2023, 8, 10, 10, 0, tzinfo=TAIPEI)
    monkeypatch.setattr(bot.dispatcher, "utc_now", lambda: august)
    # A whole month, the programme's own figure: recorded as 「回報使用量」 records it.
    texts = joined(owner.say("上個月發票開了80張"))
    assert "已記錄 好味道小吃 112/07的「每月開立電子發票張數」：80 張" in texts
    # This month's, already past the minimum: recorded for this month (it can only grow).
    assert "已記錄 好味道小吃 112/08的「每月開立電子發票張數」：50 張" in joined(owner.say("這個月發票開了50張"))
    # Not yet a month's figure, or another count of a tool's use: thanked, told how it is counted.
    for typed in ("這禮拜發票開了12張", "這個月發票才開了12張", "這禮拜用POS結帳120筆"):
        texts = joined(owner.say(typed))
        assert "謝謝您告訴我" in texts and "每月至少 30 張" in texts and "已記錄" not in texts, typed
        assert "結帳時間" not in texts and "文件" not in texts, typed  # not the KPI report, not the FAQ
    with app.extensions["bot"].database.session() as session:
        reports = sorted((r.company_id, r.period, r.figure) for r in session.exec(select(UsageReport)).all())
        assert reports == [(ids["好味道小吃"], "2023-07", 80), (ids["好味道小吃"], "2023-08", 50)]
    # A shop whose tool is not confirmed yet: nothing recorded, and when it will be asked.
    texts = joined(other.say("上個月發票開了80張"))
    assert "等顧問確認您開始使用工具後" in texts and "已記錄" not in texts
    with app.extensions["bot"].database.session() as session:
        assert len(session.exec(select(UsageReport)).all()) == 2
        assert not session.exec(select(UnansweredQuestion)).all()


def test_an_adoption_said_in_words_is_recorded_not_a_ticket(app, chat):
    # 「好味道小吃 7/20 開始用LINE官方帳號了」 went to the FAQ and became a question for staff.
    from knowledge.models import UnansweredQuestion

    ids = _setup(app)
    advisor, owner = _people(app, chat, ADVISOR, OWNER)
    text = joined(advisor.say("好味道小吃7/20開始用LINE官方帳號了"))
    assert "導入已記錄" in text and "LINE 會員集點與訂位" in text
    assert "哪一天開始使用" in joined(advisor.say("阿明咖啡館的收銀機裝好了"))  # the day is asked
    advisor.say("取消")
    # A question, a visit (a mode or a duration) and an owner's own words are not records.
    advisor.say("阿明咖啡館有在用POS嗎")
    advisor.say("取消")
    assert "哪一家" not in joined(owner.say("我們開始用POS了"))
    assert [(a.company_id, a.tool_id) for a in _adoptions(app)] == [(ids["好味道小吃"], "line_member")]
    with app.extensions["bot"].database.session() as session:
        asked = [q.line_user_id for q in session.exec(select(UnansweredQuestion)).all()]
    assert ADVISOR not in asked


def test_an_advisor_asking_about_an_assigned_shop_is_shown_the_way_to_it_not_a_ticket(app, chat):
    # 「阿明咖啡館有在用系統嗎」 from the shop's advisor is about the shop, not the programme's
    # documents: it went to staff as an unanswered question.
    from knowledge.models import UnansweredQuestion

    _setup(app)
    advisor, other = _people(app, chat, ADVISOR, OTHER_ADVISOR)
    reply = joined(advisor.say("阿明咖啡館有在用系統嗎"))
    assert "阿明咖啡館" in reply and "承辦同仁" not in reply
    assert t("faq.offer_shop_progress") in advisor.labels()
    standing = joined(advisor.say(f"{t('faq.offer_shop_progress_word')} 阿明咖啡館"))
    assert "阿明咖啡館" in standing and "好味道小吃" not in standing
    # Another advisor's shop is never looked up: the question goes on as any question would.
    elsewhere = joined(other.say("阿明咖啡館有在用系統嗎"))
    assert t("faq.offer_shop_progress") not in other.labels() and "阿明咖啡館」目前" not in elsewhere
    with app.extensions["bot"].database.session() as session:
        asked = [q.line_user_id for q in session.exec(select(UnansweredQuestion)).all()]
    assert ADVISOR not in asked


def test_a_tool_not_started_yet_is_not_recorded(app, chat):
    # 「阿明咖啡館還沒開始用LINE官方帳號」 started a record, and 「7/20」 next recorded it.
    _setup(app)
    [advisor] = _people(app, chat, ADVISOR)
    assert "哪一天開始使用" not in joined(advisor.say("阿明咖啡館還沒開始用LINE官方帳號"))
    advisor.say("7/20")
    assert "哪一天開始使用" not in joined(advisor.say("好味道小吃尚未真的開始用POS"))
    advisor.say("7/21")
    assert not _adoptions(app)


def test_an_answer_about_another_shop_is_not_recorded_for_the_one_asked_about(app, chat):
    # At 好味道小吃's 「哪一天開始使用的？」 the advisor typed about 阿明咖啡館: its 7/18 was recorded
    # for 好味道小吃, whose owner was then asked to confirm a tool they never started.
    ids = _setup(app)
    [advisor] = _people(app, chat, ADVISOR)
    assert "哪一天開始使用" in joined(advisor.say("導入 好味道小吃 LINE官方帳號"))
    text = joined(advisor.say("7/18 幫阿明咖啡館裝好POS"))
    assert "這句提到「阿明咖啡館」，但現在在記的是「好味道小吃」" in text and "哪一天開始使用" in text
    assert _adoptions(app) == []
    assert "導入已記錄" in joined(advisor.say("7/20"))
    assert [(a.company_id, a.started_on) for a in _adoptions(app)] == [(ids["好味道小吃"], date(2023, 7, 20))]


def test_the_card_answered_as_one_would_a_person(app, chat, fake_line):
    """「還沒用」「有在用了」 under the card are its answers (the FAQ explained 常態使用 instead); with
    no card waiting they stay free text."""
    _setup(app)
    advisor, owner = _people(app, chat, ADVISOR, OWNER)
    assert "謝謝您的確認" not in joined(owner.say("有在用了"))  # nothing to confirm yet
    advisor.say("導入 好味道小吃 POS 7/20")
    assert "已經告訴顧問" in joined(owner.say("還沒用"))
    advisor.say("導入 好味道小吃 POS 8/2")
    assert "謝謝您的確認" in joined(owner.say("有在用了！"))
    assert [a.status for a in _adoptions(app)] == ["declined", "confirmed"]
    assert "謝謝您的確認" not in joined(owner.say("有在用了"))  # answered: nothing waiting any more
