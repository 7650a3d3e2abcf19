"""Advisors log visits by message: parsing, the chat flow end to end, photos, edit/delete, progress,
export. Real HTTP to the fake LINE API; real database."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlmodel import select

from bot.db import utc_now
from bot.timeutil import TAIPEI
from bot.models import AuditEntry, RoleGrant
from companies.models import Company, CompanyMember
from knowledge.models import UnansweredQuestion
from tests.conftest import joined
from visits.models import Visit
from visits.parse import CompanyRef, parse_duration, parse_mode, parse_visit_message
from visits.photos import VisitPhoto

ADVISOR = "U" + "d" * 32
OWNER = "U" + "e" * 32
TODAY = date(2023, 3, 12)
COMPANIES = [CompanyRef(1, "好味道小吃", "12345675"), CompanyRef(2, "阿明咖啡館", "24536806"),
             CompanyRef(3, "好味道麵店", None)]


# --- pure parsing ---------------------------------------------------------------------------

def test_parse_full_message_by_tax_id():
    parsed = parse_visit_message("訪視 12345675 現地 3/10 14:00 POS教學 1.5小時", today=TODAY, companies=COMPANIES)
    assert parsed.company_ids == [1]
    assert parsed.visit_date == date(2023, 3, 10)
    assert parsed.visit_time.strftime("%H:%M") == "14:00"
    assert (parsed.mode, parsed.duration_minutes, parsed.topics) == ("onsite", 90, "POS教學")


def test_parse_name_inside_text_and_relative_date():
    parsed = parse_visit_message("今天線上輔導 好味道小吃 導入LINE官方帳號", today=TODAY, companies=COMPANIES)
    assert parsed.company_ids == [1]
    assert parsed.visit_date == TODAY and parsed.mode == "online"
    assert parsed.topics == "導入LINE官方帳號" and parsed.duration_minutes is None


@pytest.mark.parametrize("text, expected", [
    ("112/3/10 到店 阿明咖啡館 教學", date(2023, 3, 10)),
    ("2023-03-10 視訊 阿明咖啡館", date(2023, 3, 10)),
    ("昨天 電話 阿明咖啡館", date(2023, 3, 11)),
    ("12/30 現地 阿明咖啡館", date(2022, 12, 30)),  # no year and in the future: last year
])
def test_parse_dates(text, expected):
    assert parse_visit_message(text, today=TODAY, companies=COMPANIES).visit_date == expected


@pytest.mark.parametrize("text, expected", [
    # TODAY is a Sunday: a weekday alone is the last one, 上週 the week before (a log is of the past)
    ("週五", date(2023, 3, 10)), ("上週五", date(2023, 3, 3)), ("上禮拜一", date(2023, 2, 27)),
    ("這週六", date(2023, 3, 11)), ("星期日", date(2023, 3, 12)),
])
def test_weekdays_are_the_past_ones(text, expected):
    assert parse_visit_message(f"{text} 現地 阿明咖啡館", today=TODAY, companies=COMPANIES).visit_date == expected


def test_impossible_dates_and_durations_are_not_taken():
    parsed = parse_visit_message("2/30 現地 阿明咖啡館 POS 30小時", today=TODAY, companies=COMPANIES)
    assert (parsed.visit_date, parsed.bad_date) == (None, "2/30")
    assert (parsed.duration_minutes, parsed.bad_duration) == (None, "30小時")
    assert "date" not in parsed.as_answers() and "duration" not in parsed.as_answers()
    tomorrow = parse_visit_message("明天 現地 阿明咖啡館", today=TODAY, companies=COMPANIES)
    assert tomorrow.future_date and "date" not in tomorrow.as_answers()


def test_fuzzy_name_and_ambiguity():
    typo = parse_visit_message("訪視 阿民咖啡館 現地 盤點", today=TODAY, companies=COMPANIES)
    assert typo.company_ids == [2]
    vague = parse_visit_message("訪視 好味道 現地", today=TODAY, companies=COMPANIES)
    assert sorted(vague.company_ids) == [1, 3]


@pytest.mark.parametrize("text, company, topics", [
    # a homophone typo (Zhuyin keyboards) or a shortened name inside the sentence, not a token alone
    ("上週五到阿民咖啡館教LINE官方帳號 1.5小時", 2, "教LINE官方帳號"),
    ("昨天線上幫咖啡館 設定POS", 2, "設定POS"),  # a shortened name stands as its own token
    ("今天去阿明咖啡館現場輔導2小時", 2, ""),  # 「去」 is not what the visit was about
])
def test_names_inside_a_sentence_and_words_left_alone(text, company, topics):
    parsed = parse_visit_message(text, today=TODAY, companies=COMPANIES)
    assert (parsed.company_ids, parsed.topics) == ([company], topics)


def test_a_near_name_is_not_another_shop():
    # 好味道 is the start of two names: both offered; a different shop's name matches none.
    assert sorted(parse_visit_message("今天到好味道現地", today=TODAY, companies=COMPANIES).company_ids) == [1, 3]
    assert parse_visit_message("今天去晨曦麵館現地", today=TODAY, companies=COMPANIES).company_ids == []


def test_the_unlikely_duration_copy_follows_the_range(monkeypatch):
    from visits import parse as vp
    from visits.flows import problems

    parsed = parse_visit_message("2/3 現地 阿明咖啡館 POS 30小時", today=TODAY, companies=COMPANIES)
    assert problems(parsed) == ["「30小時」不像一次輔導的時數（5 分鐘到 12 小時），請再確認輔導了多久。"]
    monkeypatch.setattr(vp, "DURATION_RANGE", (10, 8 * 60))
    assert "（10 分鐘到 8 小時）" in problems(parsed)[0]


@pytest.mark.parametrize("text, minutes", [("1.5小時", 90), ("一個半小時", 90), ("90分鐘", 90), ("2h", 120),
                                           ("半小時", 30), ("1小時30分", 90)])
def test_parse_duration(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text, mode", [("到店教學", "onsite"), ("實地訪視", "onsite"), ("google meet", "online"),
                                        ("視訊", "online"), ("打電話", "phone"), ("線上拜訪", "online")])
def test_parse_mode(text, mode):
    assert parse_mode(text) == mode


# --- chat, end to end ---------------------------------------------------------------------

def _setup(app) -> dict[str, int]:
    runtime = app.extensions["bot"]
    with runtime.database.session() as session:
        session.add(RoleGrant(line_user_id=ADVISOR, role="advisor", granted_by="test"))
        ids = {}
        for name, tax_id in (("好味道小吃", "12345675"), ("阿明咖啡館", "24536806"), ("好味道麵店", None)):
            company = Company(name=name, tax_id=tax_id, advisor_line_user_id=ADVISOR, county="臺北市")
            session.add(company)
            session.flush()
            ids[name] = company.id
        other = Company(name="別人的店", tax_id="04595257", advisor_line_user_id="U" + "9" * 32)
        session.add(other)
        session.flush()
        ids["別人的店"] = other.id
    return ids


def _advisor(app, chat):
    """The companies set up and the advisor following the account: (advisor's chat, company ids)."""
    ids = _setup(app)
    advisor = chat.as_user(ADVISOR)
    advisor.follow()
    return advisor, ids


def _visits(app) -> list[Visit]:
    with app.extensions["bot"].database.session() as session:
        return list(session.exec(select(Visit).order_by(Visit.id)).all())


def test_one_message_logs_a_done_visit_with_card(app, chat):
    advisor, ids = _advisor(app, chat)
    texts = advisor.say("訪視 12345675 現地 3/10 14:00 POS教學 1.5小時")
    text = joined(texts)
    assert "訪視已記錄" in text and "好味道小吃" in text and "現地" in text and "1.5 小時" in text
    assert "修改" in advisor.labels() and "刪除" in advisor.labels()
    [visit] = _visits(app)
    assert visit.status == "done" and visit.company_id == ids["好味道小吃"] and visit.mode == "onsite"
    assert visit.duration_minutes == 90 and visit.topics == "POS教學"
    assert visit.advisor_line_user_id == ADVISOR


def test_missing_parts_are_asked_with_quick_replies(app, chat):
    advisor, _ = _advisor(app, chat)
    texts = advisor.say("今天線上輔導 好味道 導入LINE官方帳號")
    assert "哪一家" in joined(texts)  # two companies named 好味道…
    assert {"好味道小吃", "好味道麵店"} <= set(advisor.labels())
    texts = advisor.tap("好味道麵店")
    assert "多久" in joined(texts)  # the date was in the message; a time is not required
    texts = advisor.say("2小時")
    assert "訪視已記錄" in joined(texts)
    [visit] = _visits(app)
    assert visit.mode == "online" and visit.duration_minutes == 120 and visit.topics == "導入LINE官方帳號"


def test_guided_flow_and_photos_attached(app, chat, fake_line):
    advisor, _ = _advisor(app, chat)
    texts = advisor.say("登錄訪視")
    assert "哪一家" in joined(texts)
    advisor.tap("阿明咖啡館")
    advisor.tap("昨天")
    advisor.say("10:30")
    advisor.tap("電話")
    advisor.tap("1小時")
    texts = advisor.say("雲端發票開立")
    assert "訪視已記錄" in joined(texts)
    fake_line.contents["m-photo-1"] = (b"\xff\xd8\xff" + b"x" * 100, "image/jpeg")
    texts = advisor.send("image", message_id="m-photo-1")
    assert "已附上 1 張照片" in joined(texts)
    texts = advisor.tap("完成")
    assert "完成" in joined(texts)
    [visit] = _visits(app)
    assert len(visit.photos) == 1
    with app.extensions["bot"].database.session() as session:
        photo = session.exec(select(VisitPhoto)).one()
        assert photo.visit_id == visit.id and photo.mime == "image/jpeg" and photo.size == 103


def test_edit_and_delete_within_24_hours(app, chat):
    advisor, _ = _advisor(app, chat)
    advisor.say("訪視 12345675 現地 3/10 POS教學 1小時")
    texts = advisor.tap("修改")
    assert "修改訪視紀錄" in joined(texts)
    advisor.tap("修改方式")
    advisor.tap("線上")
    texts = advisor.tap("確認")
    assert "訪視已更新" in joined(texts)
    [visit] = _visits(app)
    assert visit.mode == "online"
    advisor.say("刪除訪視")
    texts = advisor.tap("確定刪除")
    assert "已刪除" in joined(texts)
    assert _visits(app)[0].deleted_at is not None


def test_edit_refused_after_24_hours(app, chat):
    advisor, _ = _advisor(app, chat)
    advisor.say("訪視 12345675 現地 3/10 POS教學 1小時")
    with app.extensions["bot"].database.session() as session:
        visit = session.exec(select(Visit)).one()
        visit.created_at = utc_now() - timedelta(hours=25)
        session.add(visit)
    advisor.tap("完成")
    texts = advisor.say("修改訪視")
    assert "超過 24 小時" in joined(texts)


def test_company_not_assigned_and_future_date(app, chat):
    advisor, _ = _advisor(app, chat)
    texts = advisor.say("訪視 04595257 現地 今天 教學")
    assert "不是指派給您的企業" in joined(texts)
    assert not _visits(app)


def test_a_described_visit_at_a_shop_not_found_asks_which_shop(app, chat):
    # 「今天去…現地輔導 2小時」 names a shop the advisor does not have: still a log, never a ticket.
    advisor, ids = _advisor(app, chat)
    texts = advisor.say("今天去晨光早午餐現地輔導 2小時 教他用POS")
    assert "哪一家" in joined(texts) and "好味道小吃" in advisor.labels()
    assert "別人的店" not in advisor.labels()
    advisor.tap("好味道小吃")
    [visit] = _visits(app)
    assert visit.company_id == ids["好味道小吃"] and visit.mode == "onsite" and visit.duration_minutes == 120
    with app.extensions["bot"].database.session() as session:
        assert not session.exec(select(UnansweredQuestion)).all()


def test_non_advisor_cannot_log_and_sees_only_their_own_progress(app, chat):
    ids = _setup(app)
    owner = chat.as_user(OWNER)
    owner.follow()
    # 「我的進度」 from someone with no shop: how to get one, nothing of the advisor's shops.
    texts = joined(owner.say("我的進度"))
    assert "資格檢查" in texts and "好味道" not in texts and "阿明" not in texts
    # 「登錄訪視」 or a visit typed out: who logs visits and what to do instead (not a staff ticket).
    for typed in ("登錄訪視", "訪視 阿明咖啡館 現地 今天 1小時"):
        texts = joined(owner.say(typed))
        assert "由專案顧問登錄" in texts and {"預約訪視", "我的進度"} <= set(owner.labels()), typed
    assert "由專案顧問登錄" not in joined(owner.say("訪視 現場或線上"))  # a question about visits
    assert not _visits(app)
    with app.extensions["bot"].database.session() as session:
        assert not session.exec(select(UnansweredQuestion)).all()
    with app.extensions["bot"].database.session() as session:
        denied = session.exec(select(AuditEntry).where(AuditEntry.action == "permission_denied")).all()
        assert len(denied) == 1
        session.add(CompanyMember(company_id=ids["阿明咖啡館"], line_user_id=OWNER))
        session.add(Visit(company_id=ids["阿明咖啡館"], advisor_line_user_id=ADVISOR, status="done", mode="onsite",
                          scheduled_at=utc_now() - timedelta(days=3)))
    # A member: their own shop's letter, visits against the rule and tool, and no other shop.
    texts = joined(owner.say("我的進度"))
    assert "阿明咖啡館的進度" in texts and "1 次（現地 1 次）" in texts and "至少 3 次" in texts
    assert "還沒簽署" in texts and "好味道" not in texts
    # The tool's deadline, from the campaign (the chat runs on today's clock, long past this demo's).
    assert "112/07/31 的期限已經過了" in texts and "最遲" not in texts


def test_owner_progress_is_the_checklist_of_what_is_due(app, chat, monkeypatch):
    """A signed owner's 「我的進度」 also has the next visit, the 前測／後測 sent so far and the
    數位健檢, with a button for each thing still open."""
    import bot.dispatcher
    from tests.test_activities import person, signed_company, uid

    with app.extensions["bot"].database.session() as session:
        person(session, uid(1))
        company_id = signed_company(session, 1, owner=uid(1), advisor=ADVISOR).id
    owner = chat.as_user(uid(1))
    june = datetime(2023, 6, 10, 10, 0, tzinfo=TAIPEI)  # the pretest is open (06/01–06/20), the tool due 07/31
    monkeypatch.setattr(bot.dispatcher, "utc_now", lambda: june.astimezone(timezone.utc))
    texts = joined(owner.say("我的進度"))
    assert "最遲 112/07/31 要開始用" in texts and "下次訪視：還沒約" in texts
    assert "數位能力評量前測：還沒填，112/06/20 17:00 截止" in texts and "後測" not in texts
    assert "數位健檢：還沒做" in texts
    assert owner.labels() == ["預約訪視", "數位健檢", "我的提醒"]
    with app.extensions["bot"].database.session() as session:
        session.add(Visit(company_id=company_id, advisor_line_user_id=ADVISOR, status="booked", mode="onsite",
                          scheduled_at=datetime(2023, 6, 15, 14, 0, tzinfo=TAIPEI)))
    owner.say("已完成前測")
    texts = joined(owner.say("我的進度"))
    assert "下次訪視：112/06/15 14:00 現地（已預約）" in texts and "數位能力評量前測：已完成" in texts
    assert owner.labels() == ["數位健檢", "我的提醒"]
    august = datetime(2023, 8, 2, 10, 0, tzinfo=TAIPEI)
    monkeypatch.setattr(bot.dispatcher, "utc_now", lambda: august.astimezone(timezone.utc))
    assert "112/07/31 的期限已經過了，請盡快跟顧問聯絡" in joined(owner.say("我的進度"))


def test_progress_against_visit_rules(app, chat):
    advisor, _ = _advisor(app, chat)
    for message in ("訪視 12345675 現地 3/1 教學 1小時", "訪視 12345675 線上 3/5 教學 1小時",
                    "訪視 12345675 電話 3/8 教學 1小時"):
        advisor.say(message)
        advisor.tap("完成")
    advisor.say("訪視 24536806 線上 3/8 教學 1小時")
    advisor.tap("完成")
    text = joined(advisor.say("我的進度"))
    assert "✅ 好味道小吃：3 次（現地 1）" in text
    assert "⏳ 阿明咖啡館：1 次（現地 0），還差 2 次、現地 1 次" in text
    assert "已達標 1/3 家" in text


def test_export_csv_cli(app, chat):
    advisor, _ = _advisor(app, chat)
    advisor.say("訪視 12345675 現地 112/3/10 14:00 POS教學 1.5小時")
    result = app.test_cli_runner().invoke(args=["export", "visits", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("visit_id,company_tax_id,company_name")
    assert "12345675,好味道小吃" in lines[1] and "112/03/10" in lines[1] and "14:00" in lines[1]
    assert ",onsite,現地,90,POS教學," in lines[1]


def test_logging_a_booked_visit_completes_that_booking(app, chat):
    from datetime import datetime

    from bot.timeutil import TAIPEI

    advisor, ids = _advisor(app, chat)
    with app.extensions["bot"].database.session() as session:
        booked = Visit(company_id=ids["阿明咖啡館"], advisor_line_user_id=ADVISOR, status="confirmed", mode="onsite",
                       scheduled_at=datetime(2023, 3, 10, 14, 0, tzinfo=TAIPEI), created_by=OWNER)
        session.add(booked)
        session.flush()
        booked_id = booked.id
    advisor.say("訪視 24536806 現地 112/3/10 14:00 盤點系統 2小時")
    [visit] = _visits(app)
    assert visit.id == booked_id and visit.status == "done" and visit.duration_minutes == 120


def test_advisor_question_goes_to_the_faq_not_a_log(app, chat):
    advisor, _ = _advisor(app, chat)
    texts = advisor.say("訪視要幾次才算完成？")
    assert "哪一家" not in joined(texts)
    assert not _visits(app)


def test_next_visit_typed_right_after_a_log_is_logged_too(app, chat):
    advisor, _ = _advisor(app, chat)
    advisor.say("訪視 12345675 現地 3/10 14:00 POS教學 1.5小時")
    texts = advisor.say("訪視 12345675 線上 3/12 10:00 LINE官方帳號 1小時")
    assert "訪視已記錄" in joined(texts)
    assert sorted(v.mode for v in _visits(app)) == ["online", "onsite"]


def test_keep_a_visit_then_a_stale_delete_button_and_a_failed_photo(app, chat):
    advisor, _ = _advisor(app, chat)
    advisor.say("訪視 12345675 現地 3/10 POS教學 1小時")
    card = advisor.actions()
    texts = advisor.send("image", message_id="m-not-on-line")  # LINE has no content for it
    assert "照片下載失敗" in joined(texts)
    advisor.tap("刪除")
    assert "保留" in joined(advisor.tap("保留"))
    assert _visits(app)[0].deleted_at is None
    advisor.say("刪除訪視")
    confirm = advisor.actions()
    advisor.tap("確定刪除")
    # The same buttons tapped again later (an old card, a double tap): nothing more happens.
    again = [advisor.tap_action(next(a for a in confirm if "確定刪除" in a["label"])),
             advisor.tap_action(next(a for a in card if a.get("label") == "修改"))]
    assert all("找不到這筆訪視紀錄" in joined(texts) for texts in again)
    with app.extensions["bot"].database.session() as session:
        deleted = session.exec(select(AuditEntry).where(AuditEntry.action == "visit_deleted")).all()
    assert len(deleted) == 1 and _visits(app)[0].deleted_at is not None


def test_a_whole_visit_typed_while_a_question_waits_is_that_visit(app, chat):
    # At 「輔導多久？」 for one shop the advisor types another visit: its 「1小時」 is not the answer
    # (that saved the first visit with it and lost the one typed); the one typed is logged, and the
    # advisor learns the first was not saved.
    advisor, ids = _advisor(app, chat)
    assert "多久" in joined(advisor.say("昨天線上 阿明咖啡館 設定POS"))
    texts = joined(advisor.say("3/2 現地 好味道小吃 盤點教學 1小時"))
    assert "「阿明咖啡館」那筆還沒填完，沒有存" in texts and "訪視已記錄" in texts
    [visit] = _visits(app)
    assert (visit.company_id, visit.mode, visit.duration_minutes, visit.topics) == (
        ids["好味道小吃"], "onsite", 60, "盤點教學")
    advisor.tap("完成")
    # Several answers typed at one question are all taken (the same shop: nothing dropped).
    advisor.say("登錄訪視")
    advisor.tap("阿明咖啡館")
    texts = joined(advisor.say("昨天 現地 2小時"))
    assert "內容" in texts and "沒有存" not in texts
    advisor.say("POS教學")
    latest = _visits(app)[-1]
    assert (latest.company_id, latest.mode, latest.duration_minutes) == (ids["阿明咖啡館"], "onsite", 120)


def test_topics_with_a_mode_word_and_a_duration_are_the_topics(app, chat):
    # 「電話行銷話術 30分鐘」 at 「輔導內容？」 set the mode to phone and dropped 電話 from the topics.
    advisor, ids = _advisor(app, chat)
    advisor.say("登錄訪視")
    advisor.tap("阿明咖啡館")
    advisor.say("昨天")
    advisor.tap("略過")
    advisor.tap("現地")
    advisor.tap("1小時")
    assert "訪視已記錄" in joined(advisor.say("電話行銷話術 30分鐘"))
    advisor.tap("完成")
    # A whole visit typed at a later question fills in what is missing; what was answered stays.
    advisor.say("登錄訪視")
    advisor.tap("阿明咖啡館")
    advisor.say("昨天")
    advisor.tap("略過")
    advisor.tap("現地")
    assert "內容" in joined(advisor.say("昨天 線上 2小時"))
    advisor.say("POS教學")
    first, second = _visits(app)
    assert (first.mode, first.duration_minutes, first.topics) == ("onsite", 60, "電話行銷話術 30分鐘")
    assert (second.mode, second.duration_minutes, second.topics) == ("onsite", 120, "POS教學")


def test_a_log_says_why_a_date_or_duration_typed_is_asked_again(app, chat):
    advisor, _ = _advisor(app, chat)
    texts = joined(advisor.say("2/30 現地 阿明咖啡館 POS 1小時"))
    assert "「2/30」不是有效的日期" in texts and "哪一天" in texts
    advisor.say("取消")
    texts = joined(advisor.say("明天現地 阿明咖啡館 POS 1小時"))
    assert "不能在未來" in texts and "哪一天" in texts
    advisor.say("取消")
    texts = joined(advisor.say("今天現地 阿明咖啡館 POS 30小時"))
    assert "「30小時」不像一次輔導的時數" in texts and "多久" in texts
    assert not _visits(app)  # not saved with 30 hours
    # The same inside a log already going: the message's other pieces are still taken.
    advisor.say("取消")
    advisor.say("登錄訪視")
    advisor.tap("阿明咖啡館")
    texts = joined(advisor.say("2/31 現地 1小時"))
    assert "「2/31」不是有效的日期" in texts and "哪一天" in texts
    advisor.say("昨天")
    advisor.tap("略過")  # the time
    assert "訪視已記錄" in joined(advisor.say("POS教學"))
    [visit] = _visits(app)
    assert (visit.mode, visit.duration_minutes) == ("onsite", 60)


def test_a_dated_visit_with_a_typo_in_the_shop_is_logged_not_an_off_topic_reply(app, chat):
    advisor, ids = _advisor(app, chat)
    texts = joined(advisor.say("上週五到阿民咖啡館教LINE官方帳號 1.5小時"))
    # the date, duration and topics are taken; the shop (a guess from a typo) is offered, then the mode
    assert "哪一家" in texts and advisor.labels()[0] == "阿明咖啡館"
    assert "輔導方式" in joined(advisor.tap("阿明咖啡館"))
    assert "訪視已記錄" in joined(advisor.tap("現地"))
    [visit] = _visits(app)
    assert (visit.company_id, visit.duration_minutes, visit.topics) == (ids["阿明咖啡館"], 90, "教LINE官方帳號")
    advisor.tap("完成")
    # A date and a duration, no mode, a shop not theirs: still a log asking which shop.
    assert "哪一家" in joined(advisor.say("昨天去晨曦麵館教LINE 1.5小時"))
    with app.extensions["bot"].database.session() as session:
        assert not session.exec(select(UnansweredQuestion)).all()


def test_a_shortened_name_inside_another_word_is_no_shop_and_one_alone_is_only_offered(app, chat):
    # 「晨光咖啡館」 was saved at once for 阿明咖啡館 (its end 「咖啡館」), 「晨光」 left as topics.
    advisor, ids = _advisor(app, chat)
    texts = joined(advisor.say("今天 現地 晨光咖啡館 1小時 POS教學"))
    assert "訪視已記錄" not in texts and "哪一家" in texts and not _visits(app)
    advisor.say("取消")
    # A shortened name standing alone is a guess: offered with a button, saved only once tapped.
    texts = joined(advisor.say("今天 現地 咖啡館 1小時 POS教學"))
    assert "訪視已記錄" not in texts and "哪一家" in texts and advisor.labels()[0] == "阿明咖啡館"
    assert "訪視已記錄" in joined(advisor.tap("阿明咖啡館"))
    [visit] = _visits(app)
    assert (visit.company_id, visit.topics) == (ids["阿明咖啡館"], "POS教學")


def test_a_shortened_name_glued_to_other_words_names_no_shop():
    companies = [*COMPANIES, CompanyRef(4, "阿珠美甲", None)]
    assert parse_visit_message("今天 現地 教老闆做美甲作品集 1小時", today=TODAY, companies=companies).company_ids == []
    alone = parse_visit_message("今天 現地 美甲 1小時", today=TODAY, companies=companies)
    assert (alone.company_ids, alone.guessed, "company" in alone.as_answers()) == ([4], True, False)


def test_two_shops_in_one_message_offer_the_same_visit_for_the_second(app, chat):
    # The second shop was silently dropped into the topics (「去 和好味道麵店」); now the first is
    # logged and the same visit is one tap away for the other.
    advisor, ids = _advisor(app, chat)
    texts = joined(advisor.say("今天去好味道麵店和阿明咖啡館現地輔導2小時 POS教學"))
    assert "訪視已記錄" in texts and "訊息裡還有「阿明咖啡館」" in texts
    assert "也記 阿明咖啡館" in advisor.labels()
    assert "訪視已記錄" in joined(advisor.tap("也記 阿明咖啡館"))
    first, second = _visits(app)
    assert (first.company_id, second.company_id) == (ids["好味道麵店"], ids["阿明咖啡館"])
    assert all((v.mode, v.duration_minutes, v.topics) == ("onsite", 120, "POS教學") for v in (first, second))
    assert not any("也記" in label for label in advisor.labels())  # nothing more to offer
    advisor.tap("完成")
    # Typed instead of tapped, and 「完成」 instead: nothing more is logged.
    advisor.say("昨天 線上 好味道小吃、阿明咖啡館 說明會 1小時")
    advisor.say("也記阿明咖啡館")
    advisor.say("今天 線上 好味道小吃、阿明咖啡館 說明會 1小時")
    advisor.say("完成")
    assert [v.company_id for v in _visits(app)[2:]] == [ids["好味道小吃"], ids["阿明咖啡館"], ids["好味道小吃"]]
    # A bare 「好」 or 「要」 is no 「也記 …」: the second shop gets no visit of its own (it got a duplicate).
    for word in ("好", "要"):
        advisor.say("今天 電話 好味道小吃、阿明咖啡館 說明會 1小時")
        advisor.say(word)
        advisor.say("完成")
    assert [v.company_id for v in _visits(app)[5:]] == [ids["好味道小吃"], ids["好味道小吃"]]


def test_the_same_visit_for_another_shop_after_the_first_was_deleted_says_it_is_gone(app, chat):
    # The visit deleted meanwhile (from the dashboard): 「也記」 crashed on the missing record.
    advisor, _ = _advisor(app, chat)
    advisor.say("今天去好味道麵店和阿明咖啡館現地輔導2小時 POS教學")
    with app.extensions["bot"].database.write_session() as session:
        session.delete(session.get(Visit, _visits(app)[0].id))
    texts = joined(advisor.tap("也記 阿明咖啡館"))
    assert "已經刪除了" in texts and "阿明咖啡館" in texts and not _visits(app)


@pytest.mark.parametrize("word", ["取消", "結束"])
def test_cancel_after_the_visit_was_saved_says_it_is_kept(app, chat, word):
    # 「已取消「訪視紀錄」」 after the card read as if the visit were gone; it is saved and stays.
    advisor, _ = _advisor(app, chat)
    advisor.say("訪視 12345675 現地 今天 POS教學 1小時")
    texts = joined(advisor.say(word))
    assert "已經存好了（沒有刪除）" in texts and "已取消" not in texts
    assert [v.deleted_at for v in _visits(app)] == [None]
    assert "已取消" in joined(advisor.say("登錄訪視") and advisor.say(word))  # before saving: cancelled


@pytest.mark.parametrize("typed", ["我的店家進度", "誰還沒訪視", "哪些店還沒達標"])
def test_an_advisor_asking_who_is_behind_gets_their_progress(app, chat, typed):
    # 「我的店家進度」 got a greeting back and 「誰還沒訪視」 the FAQ's how-to-log answer.
    advisor, _ = _advisor(app, chat)
    texts = joined(advisor.say(typed))
    assert "我的訪視進度" in texts and "阿明咖啡館：0 次" in texts


def test_a_shop_named_after_a_read_command_shows_only_the_askers_own_shops(app, chat):
    # 「我的進度 店7」 and 「我的店家進度 阿明」 went to the FAQ and opened a staff ticket.
    advisor, ids = _advisor(app, chat)
    with app.extensions["bot"].database.session() as session:
        session.add(CompanyMember(company_id=ids["阿明咖啡館"], line_user_id=OWNER))
        session.add(CompanyMember(company_id=ids["別人的店"], line_user_id="U" + "8" * 32))
    texts = joined(advisor.say("我的店家進度 阿明"))
    assert "阿明咖啡館：0 次" in texts and "好味道" not in texts and "沒有「" not in texts
    # A shop assigned to another advisor, by name or 統編, after each read command: never shown,
    # and the answer is the same as for a shop that does not exist.
    for typed in ("我的進度 別人的店", "我的店家進度 04595257", "健檢結果 別人的店", "績效趨勢 別人的店",
                  "前後測進度 別人的店", "我的進度 沒這家店"):
        texts = joined(advisor.say(typed))
        assert "別人的店" not in texts.replace("沒有「別人的店」", ""), typed
        # (none of this advisor's shops has signed: the 前後測 list is empty, and says so)
        assert "您負責的店家裡沒有「" in texts or "沒有已簽署意向書的輔導企業" in texts, typed
    assert "阿明咖啡館：0 次" in joined(advisor.say("我的進度 別人的店"))
    owner = chat.as_user(OWNER)
    owner.follow()
    # An owner naming another shop, or any words: their own shop, with a short note.
    for typed in ("我的進度 別人的店", "我的進度 王記", "我的進度 04595257"):
        texts = joined(owner.say(typed))
        assert "只能查看您自己店家" in texts and "阿明咖啡館的進度" in texts, typed
        assert "別人的店" not in texts and "王記" not in texts and "好味道" not in texts, typed
    texts = joined(owner.say("我的進度 阿明咖啡館"))
    assert "阿明咖啡館的進度" in texts and "只能查看" not in texts
    texts = joined(owner.say("健檢結果 別人的店"))
    assert "只能查看您自己店家" in texts and "別人的店" not in texts
    with app.extensions["bot"].database.session() as session:
        assert not session.exec(select(UnansweredQuestion)).all()


def test_an_edit_typed_with_its_new_value_on_the_summary_card_is_taken(app, chat):
    # 「時數改成90分鐘」 on the card got 「要修改哪一項呢？」; only the bare label opened that question.
    advisor, _ = _advisor(app, chat)
    advisor.say("訪視 12345675 現地 3/10 POS教學 1小時")
    advisor.tap("修改")
    advisor.say("時數改成90分鐘")
    advisor.say("改方式 線上")
    card = joined(advisor.say("輔導內容：LINE官方帳號設定"))
    assert "要修改哪一項" not in card and "1.5 小時" in card and "線上" in card
    texts = joined(advisor.say("時數：30小時"))  # a value the question would not take: asked, with why
    assert "請輸入時間長度" in texts and "多久" in texts
    advisor.tap("1.5小時")
    assert "訪視已更新" in joined(advisor.tap("確認"))
    [visit] = _visits(app)
    assert (visit.duration_minutes, visit.mode, visit.topics) == (90, "online", "LINE官方帳號設定")


def test_an_edit_on_the_summary_card_is_read_once_along_the_path(monkeypatch):
    # The dispatcher asked whether 「時數改成90分鐘」 answers the card (reading the edit), then
    # advance() read it again; now the one reading is handed on. Likewise an answer to a question.
    from dialogs import framework as fw
    from visits import parse as vp
    from visits.flows import VISIT_FLOW

    calls = []
    for module, name in ((fw, "_summary_edit_with_value"), (vp, "parse_duration")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _real=real, _name=name, **k: (calls.append(_name), _real(*a, **k))[1])
    data = {"_edit_id": 1, "_companies": [{"id": 1, "name": "好味道小吃", "tax_id": None}], "company": 1,
            "date": "2023-03-10", "time": "", "mode": "onsite", "duration": 60, "topics": "POS教學", "notes": ""}
    ctx = fw.Context(user_id=ADVISOR, now=datetime(2023, 3, 12, tzinfo=TAIPEI), flow=VISIT_FLOW.id.value,
                     step=fw.SUMMARY_STEP, session_id="s", data=data)
    typed = fw.UserInput.text_input("時數改成90分鐘")
    reading = fw.read(VISIT_FLOW, ctx, typed)
    assert reading.answers
    turn = fw.advance(VISIT_FLOW, ctx, typed, reading)
    assert turn.ctx.data["duration"] == 90 and calls == ["_summary_edit_with_value", "parse_duration"]
    calls.clear()
    asked = ctx.without_answer("duration").evolve(step="duration")
    answer = fw.UserInput.text_input("2小時")
    reading = fw.read(VISIT_FLOW, asked, answer)
    assert reading.answers and fw.advance(VISIT_FLOW, asked, answer, reading).ctx.data["duration"] == 120
    assert calls == ["parse_duration"]


@pytest.mark.parametrize("typed", ["輔導內容沒問題", "輔導內容沒錯", "改輔導內容 對", "輔導內容 POS盤點"])
def test_a_label_on_the_summary_card_with_a_confirmation_or_no_change_word_changes_nothing(app, chat, typed):
    # 「輔導內容沒問題」 saved the topics as 「沒問題」 (and 「行業沒錯」 a trade as 「沒錯」): a new value
    # needs 改/修改 before the label or 改成/換成/： after it, and is never a confirmation.
    advisor, _ = _advisor(app, chat)
    advisor.say("訪視 12345675 現地 3/10 POS教學 1小時")
    advisor.tap("修改")
    advisor.say(typed)
    assert "訪視已更新" in joined(advisor.tap("確認"))
    assert _visits(app)[0].topics == "POS教學"


def test_the_same_visit_button_tapped_after_the_log_ended_has_expired(app, chat):
    # 「也記 …」 carries the log's session and step: after 「完成」 it must not log a visit for the other shop.
    advisor, _ = _advisor(app, chat)
    advisor.say("今天去好味道麵店和阿明咖啡館現地輔導2小時 POS教學")
    [also] = [a for a in advisor.actions() if "也記" in a.get("label", "")]
    advisor.tap("完成")
    texts = joined(advisor.tap_action(also))
    assert "過期" in texts and len(_visits(app)) == 1
