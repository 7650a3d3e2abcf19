"""Reminders in chat: booking a visit with the date-time picker, answering a visit reminder,
「我的提醒」, 「停止提醒」 / 「開啟提醒」."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from bot.models import RoleGrant, User
from bot.timeutil import TAIPEI
from companies.models import Company, CompanyMember
from scheduler.models import Reminder
from tests.conftest import eventually, joined
from visits.models import Visit

OWNER = "U" + "a" * 32
ADVISOR = "U" + "b" * 32


def _pumped(app) -> bool:
    """Deliver whatever is due (pushes land after the commit that queued them); always True."""
    app.extensions["bot"].sender.deliver_due()
    return True


def future(days: int = 3, hour: int = 14) -> datetime:
    day = (datetime.now(TAIPEI) + timedelta(days=days)).date()
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=TAIPEI)


def tick(app, moment: datetime) -> dict:
    result = app.test_cli_runner().invoke(args=["tick", "--now", moment.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture
def company(app, chat):
    chat.follow()
    chat.as_user(ADVISOR).follow()
    with app.extensions["bot"].database.write_session() as session:
        session.add(RoleGrant(line_user_id=ADVISOR, role="advisor"))
        company = Company(name="阿美小吃", advisor_line_user_id=ADVISOR, verdict="eligible", letter_status="signed")
        session.add(company)
        session.flush()
        session.add(CompanyMember(company_id=company.id, line_user_id=OWNER, role="owner"))
        return company.id


def book(chat, when: datetime, mode_label: str = "現地") -> list[str]:
    texts = chat.say("預約訪視")
    assert "日期和時間" in joined(texts)
    texts = chat.tap("選日期時間", value=f"{when:%Y-%m-%dT%H:%M}")
    assert "現地" in chat.labels() and "線上" in chat.labels()
    chat.tap(mode_label)
    return chat.tap("確認")


def test_owner_books_a_visit_and_the_advisor_is_told(app, chat, fake_line, company):
    when = future()
    texts = book(chat, when)
    assert "已預約" in joined(texts) and f"{when:%H:%M}" in joined(texts)
    with app.extensions["bot"].database.session() as session:
        visit = session.exec(select(Visit)).one()
        kinds = sorted(r.kind for r in session.exec(select(Reminder).where(Reminder.visit_id == visit.id)).all())
    assert visit.status == "booked" and visit.mode == "onsite" and visit.advisor_line_user_id == ADVISOR
    assert visit.scheduled_at == when
    assert kinds == ["visit_evening", "visit_evening", "visit_hour", "visit_hour", "visit_log"]
    app.extensions["bot"].sender.deliver_due()
    assert eventually(lambda: _pumped(app) and any("預約了" in text for text in fake_line.texts_for(ADVISOR)))


def test_typed_time_and_past_time(app, chat, company):
    chat.say("預約訪視")
    texts = chat.say("昨天下午2點")
    assert "已經過了" in joined(texts)
    texts = chat.say("隨便")
    assert "看不懂" in joined(texts)
    texts = chat.say("後天下午2點")
    assert "還是線上" in joined(texts)


def test_advisor_books_for_one_of_their_companies(app, chat, fake_line, company):
    with app.extensions["bot"].database.write_session() as session:
        session.add(Company(name="好日子花店", advisor_line_user_id=ADVISOR, letter_status="signed"))
    advisor = chat.as_user(ADVISOR)
    texts = advisor.say("預約訪視")
    assert "哪一家" in joined(texts) and "好日子花店" in advisor.labels()
    advisor.tap("阿美小吃")
    advisor.tap("選日期時間", value=f"{future(4, 10):%Y-%m-%dT%H:%M}")
    advisor.tap("線上")
    assert "已預約" in joined(advisor.tap("確認"))
    app.extensions["bot"].sender.deliver_due()
    assert any("顧問預約了" in text and "線上" in text for text in fake_line.texts_for(OWNER))


def test_someone_without_a_company_cannot_book(app, chat):
    chat.as_user("U" + "c" * 32).follow()
    texts = chat.as_user("U" + "c" * 32).say("預約訪視")
    assert "找不到您的企業" in joined(texts)


def test_owner_confirms_from_the_evening_reminder(app, chat, fake_line, company):
    when = future()
    book(chat, when)
    tick(app, when - timedelta(hours=18))  # 20:00 the evening before
    assert eventually(lambda: _pumped(app) and any("明天" in text for text in fake_line.texts_for(OWNER)))
    chat.last = [m for m in fake_line.messages_for(OWNER) if "明天" in m.get("text", "")]
    texts = chat.tap("確認訪視")
    assert "已確認" in joined(texts)
    app.extensions["bot"].sender.deliver_due()
    assert eventually(lambda: _pumped(app) and any("已確認" in text for text in fake_line.texts_for(ADVISOR)))
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Visit)).one().status == "confirmed"
    tick(app, when - timedelta(hours=1))
    assert eventually(lambda: _pumped(app) and any("快開始" in text for text in fake_line.texts_for(OWNER)))


def test_owner_asks_to_reschedule_and_reminders_stop(app, chat, fake_line, company):
    when = future()
    book(chat, when)
    tick(app, when - timedelta(hours=18))
    chat.last = [m for m in fake_line.messages_for(OWNER) if "明天" in m.get("text", "")]
    texts = chat.tap("申請改期")
    assert "已通知顧問" in joined(texts)
    app.extensions["bot"].sender.deliver_due()
    assert eventually(lambda: _pumped(app) and any("希望改期" in text for text in fake_line.texts_for(ADVISOR)))
    before = len(fake_line.texts_for(OWNER))
    tick(app, when - timedelta(hours=1))
    assert len(fake_line.texts_for(OWNER)) == before
    # The advisor rebooks: the old visit is replaced.
    advisor = chat.as_user(ADVISOR)
    advisor.say("預約訪視")
    advisor.tap("選日期時間", value=f"{future(5):%Y-%m-%dT%H:%M}")
    advisor.tap("現地")
    advisor.tap("確認")
    with app.extensions["bot"].database.session() as session:
        statuses = sorted(v.status for v in session.exec(select(Visit)).all())
    assert statuses == ["booked", "cancelled"]


def test_my_reminders_lists_visits_and_stop_start(app, chat, fake_line, company):
    when = future()
    book(chat, when)
    texts = chat.say("我的提醒")
    assert "接下來的提醒" in joined(texts) and "阿美小吃" in joined(texts) and "現地訪視" in joined(texts)
    texts = chat.say("停止提醒")
    assert "已停止提醒" in joined(texts)
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(User).where(User.line_user_id == OWNER)).one().reminders_enabled is False
    assert "已停止提醒" in joined(chat.say("我的提醒")) or "開啟提醒" in joined(chat.say("我的提醒"))
    tick(app, when - timedelta(hours=18))
    assert not any("明天" in text for text in fake_line.texts_for(OWNER))
    assert eventually(lambda: _pumped(app) and any("明天" in text for text in fake_line.texts_for(ADVISOR)))
    texts = chat.say("開啟提醒")
    assert "已開啟提醒" in joined(texts)
    tick(app, when - timedelta(hours=1))
    assert eventually(lambda: _pumped(app) and any("快開始" in text for text in fake_line.texts_for(OWNER)))


def test_unfollowed_owner_gets_no_visit_reminder(app, chat, fake_line, company):
    when = future()
    book(chat, when)
    chat.unfollow()
    report = tick(app, when - timedelta(hours=18))
    assert report["skipped"].get("recipient not reachable") == 1
    assert not any("明天" in text for text in fake_line.texts_for(OWNER))


def test_reminder_buttons_tapped_twice_or_after_a_reschedule(app, chat, fake_line, company):
    when = future()
    book(chat, when)
    tick(app, when - timedelta(hours=18))
    assert eventually(lambda: _pumped(app) and any("明天" in text for text in fake_line.texts_for(OWNER)))
    chat.last = [m for m in fake_line.messages_for(OWNER) if "明天" in m.get("text", "")]
    reminder = chat.actions()
    confirm = next(a for a in reminder if "確認訪視" in a["label"])
    assert all("已確認" in joined(chat.tap_action(confirm)) for _ in range(2))  # a double tap
    chat.last = [{"quickReply": {"items": [{"type": "action", "action": a} for a in reminder]}}]
    assert "已通知顧問" in joined(chat.tap("申請改期"))
    assert "取消或改期" in joined(chat.tap_action(confirm))  # the old reminder's button
    assert "取消或改期" in joined(chat.send("postback", data="c=visit_confirm&arg=abc"))  # a mangled one
    assert eventually(lambda: _pumped(app) and any("希望改期" in text for text in fake_line.texts_for(ADVISOR)))
    told = fake_line.texts_for(ADVISOR)
    assert sum("已確認" in text for text in told) == 1 and sum("希望改期" in text for text in told) == 1
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Visit)).one().status == "reschedule_requested"


def test_owner_answers_the_evening_reminder_in_words(app, chat, fake_line, company):
    # Without a booked visit, 「好」 is small talk and 「可以改期嗎」 points to booking one.
    assert "已確認" not in joined(chat.say("好"))
    assert "目前沒有約好的訪視" in joined(chat.say("可以改期嗎")) and "預約訪視" in chat.labels()
    when = future()
    book(chat, when)
    tick(app, when - timedelta(hours=18))  # the evening reminder with 確認訪視 / 申請改期
    assert eventually(lambda: _pumped(app) and any("明天" in text for text in fake_line.texts_for(OWNER)))
    assert "已確認" in joined(chat.say("好喔"))  # the reminder answered in a word
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Visit)).one().status == "confirmed"
    assert eventually(lambda: _pumped(app) and any("已確認" in text for text in fake_line.texts_for(ADVISOR)))
    assert "已確認" not in joined(chat.say("知道了"))  # answered already: small talk again
    # Changing one's mind: the visit is named and 申請改期 is one tap away.
    offer = joined(chat.say("可以改期嗎？"))
    assert "要改" in offer and f"{when:%H:%M}" in offer and chat.labels() == ["申請改期"]
    assert "已通知顧問" in joined(chat.tap("申請改期"))
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Visit)).one().status == "reschedule_requested"


def test_my_reminders_lists_registered_activities_and_the_open_test(app, chat, company, monkeypatch):
    """「我的提醒」 has what the owner must turn up to or fill in: the workshop they registered for
    and the 前測 still missing by its due date (it said 「目前沒有排定的提醒」)."""
    import bot.dispatcher
    from activities.service import register
    from tests.test_activities import _activity

    june = datetime(2023, 6, 10, 10, 0, tzinfo=TAIPEI)  # programs.yaml: the pretest is open 06/01–06/20
    monkeypatch.setattr(bot.dispatcher, "utc_now", lambda: june)
    activity = _activity(app, starts_in=datetime(2023, 6, 12, 14, 0, tzinfo=TAIPEI) - datetime.now(TAIPEI))
    with app.extensions["bot"].database.session() as session:
        register(session, activity_id=activity.id, line_user_id=OWNER, now=june)
    text = joined(chat.say("我的提醒"))
    assert "112/06/12 14:00 活動「LINE 經營實作課」" in text
    assert "112/06/20 17:00 數位能力評量前測截止（填好後傳「已完成前測」）" in text
    chat.say("已完成前測")
    assert "前測" not in joined(chat.say("我的提醒"))  # done: not due any more


def test_a_day_without_its_time_is_kept_while_the_hour_is_asked(app, chat, company):
    """「下週三下午」 or 「3/2」 name a day: the bot asks the hour on that day (it answered 「看不懂
    這個時間」 and the owner typed it all again); a month/day already past is next year's."""
    from visits.booking import parse_when

    chat.say("預約訪視")
    text = joined(chat.say("下週三下午"))
    assert "幾點呢" in text and chat.labels()[:3] == ["下午2點", "下午3點", "下午4點"]
    assert "幾點呢" in joined(chat.send("sticker"))  # the day is still there
    assert "還是線上" in joined(chat.tap("下午3點"))
    chat.tap("現地")
    assert "已預約" in joined(chat.tap("確認"))
    with app.extensions["bot"].database.session() as session:
        visit = session.exec(select(Visit)).one()
    local = visit.scheduled_at.astimezone(TAIPEI)
    assert local.weekday() == 2 and local.hour == 15 and local.date() > datetime.now(TAIPEI).date()
    # 上一步 from the hour goes back to the day; a past day is refused.
    chat.say("預約訪視")
    chat.say("後天")
    assert "日期和時間" in joined(chat.say("上一步"))
    assert "已經過了" in joined(chat.say("昨天"))
    december = datetime(2026, 12, 6, 10, 0, tzinfo=TAIPEI)
    assert parse_when("3/2 下午3點", now=december) == datetime(2027, 3, 2, 15, 0, tzinfo=TAIPEI)
    assert parse_when("12/7 10點", now=december) == datetime(2026, 12, 7, 10, 0, tzinfo=TAIPEI)
