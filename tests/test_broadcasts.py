"""Staff broadcasts: audiences, the 「/公告」 conversation with count and preview, delivery through
the outbox (chunks, no duplicates after lost answers or a crash, unfollowed skipped), quiet hours
for scheduled sends, reports and audit."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from bot.db import utc_now
from bot.devmode.fake_line import Fault
from bot.models import AuditEntry, OutboundMessage, RoleGrant, User
from bot.timeutil import TAIPEI
from broadcasts import service
from broadcasts.models import Broadcast, SavedList
from companies.models import Company, CompanyMember
from tests.conftest import joined
from tests.conftest import eventually  # noqa: E402

STAFF = "U" + "5" * 32


def uid(n: int) -> str:
    return f"U{n:032d}"




def _population(app) -> None:
    """Owners in 臺北市 (2, one unfollowed) and 高雄市 (1), an advisor, a saved list, staff."""
    with app.extensions["bot"].database.session() as session:
        session.add(User(line_user_id=STAFF))
        session.add(RoleGrant(line_user_id=STAFF, role="staff", granted_by="test"))
        specs = [(1, "臺北市", "eligible", "signed", "餐飲", True), (2, "臺北市", "ineligible", "none", "零售", True),
                 (3, "高雄市", "eligible", "none", "餐飲", True), (4, "臺北市", "eligible", "signed", "餐飲", False)]
        for n, county, verdict, letter, industry, following in specs:
            session.add(User(line_user_id=uid(n), is_following=following))
            company = Company(name=f"店{n}", county=county, verdict=verdict, letter_status=letter, industry=industry)
            session.add(company)
            session.flush()
            session.add(CompanyMember(company_id=company.id, line_user_id=uid(n), role="owner"))
        session.add(User(line_user_id=uid(9)))
        session.add(RoleGrant(line_user_id=uid(9), role="advisor", granted_by="test"))
        session.add(SavedList(name="講座報名", members=[uid(2), uid(3), uid(4), uid(77)], created_by="test"))


def test_audiences_resolve_to_reachable_people(app):
    _population(app)
    with app.extensions["bot"].database.session() as session:
        def people(kind, value=None):
            return set(service.resolve_audience(session, kind=kind, value=value))
        assert people("all") == {STAFF, uid(1), uid(2), uid(3), uid(9)}  # uid(4) unfollowed
        assert people("verdict", "eligible") == {uid(1), uid(3)}
        assert people("letter", "signed") == {uid(1)}
        assert people("county", "臺北市") == {uid(1), uid(2)}
        assert people("industry", "餐飲") == {uid(1), uid(3)}
        assert people("advisors") == {uid(9)}
        list_id = session.exec(select(SavedList.id)).one()
        assert people("list", str(list_id)) == {uid(2), uid(3)}
        with pytest.raises(service.BroadcastError):
            service.resolve_audience(session, kind="county", value=None)


def test_quiet_hours_move_scheduled_sends_to_morning():
    quiet = (21, 8)
    late = datetime(2023, 3, 20, 22, 30, tzinfo=TAIPEI)
    assert service.outside_quiet_hours(late, quiet) == datetime(2023, 3, 21, 8, 0, tzinfo=TAIPEI)
    early = datetime(2023, 3, 21, 6, 0, tzinfo=TAIPEI)
    assert service.outside_quiet_hours(early, quiet) == datetime(2023, 3, 21, 8, 0, tzinfo=TAIPEI)
    day = datetime(2023, 3, 21, 10, 0, tzinfo=TAIPEI)
    assert service.outside_quiet_hours(day, quiet) == day


def test_chat_broadcast_with_preview_count_report_and_audit(app, chat, fake_line):
    _population(app)
    staff = chat.as_user(STAFF)
    texts = staff.say("/公告")
    assert "公告內容" in joined(texts)
    staff.say("3/25 下午兩點在市府辦數位工具講座，歡迎報名！")
    staff.say("https://example.org/signup")
    staff.tap("依縣市")
    staff.tap("臺北市")
    texts = staff.tap("立即發送")
    text = joined(texts)
    # The preview is the very message recipients get, then the count.
    assert "3/25 下午兩點在市府辦數位工具講座，歡迎報名！\n\n🔗 https://example.org/signup" in texts
    assert "「臺北市」的企業" in text and "2 人" in text
    texts = staff.tap("確認發送")
    assert "共 2 人" in joined(texts)
    assert eventually(lambda: len(fake_line.texts_for(uid(1))) == 1)
    assert fake_line.texts_for(uid(1)) == ["3/25 下午兩點在市府辦數位工具講座，歡迎報名！\n\n🔗 https://example.org/signup"]
    assert fake_line.texts_for(uid(2)) == fake_line.texts_for(uid(1))
    assert fake_line.texts_for(uid(3)) == [] and fake_line.texts_for(uid(4)) == []
    # The sender gets the delivery report by itself once every chunk is out…
    assert eventually(lambda: any("公告發送報告" in t for t in fake_line.texts_for(STAFF)))
    pushed = [t for t in fake_line.texts_for(STAFF) if "公告發送報告" in t]
    assert len(pushed) == 1 and "已送出\n2" in pushed[0]
    # …and on demand.
    texts = staff.tap("查看發送報告")
    report = joined(texts)
    assert "收件人數\n2" in report and "已送出\n2" in report and "完成" in report
    with app.extensions["bot"].database.session() as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "broadcast_created")).one()
    assert entry.actor == STAFF and entry.detail["audience"] == "county" and entry.detail["recipients"] == 2
    assert "講座" not in str(entry.detail)  # who/what/whom/when, not the message text


def _many_users(app, count: int) -> list[str]:
    ids = [uid(1000 + i) for i in range(count)]
    with app.extensions["bot"].database.session() as session:
        session.add_all([User(line_user_id=u) for u in ids])
    return ids


def _sent_to(fake_line) -> list[str]:
    with fake_line.lock:
        return [r for record in fake_line.records if record["kind"] == "multicast" for r in record["to"]]


def test_chunks_lost_answers_and_a_crash_never_message_anyone_twice(app, fake_line):
    runtime = app.extensions["bot"]
    ids = _many_users(app, 1201)
    with runtime.database.write_session() as session:
        broadcast = service.create_broadcast(session, actor=STAFF, source="test", text="通知", image_url=None,
                                             link_url=None, audience_kind="all", audience_value=None)
        broadcast_id = broadcast.id
    assert broadcast.chunks == 3 and broadcast.recipients_count == 1201
    with runtime.database.session() as session:
        rows = session.exec(select(OutboundMessage).where(OutboundMessage.origin == f"broadcast:{broadcast_id}")
                            .order_by(OutboundMessage.id)).all()
        assert [len(r.recipients) for r in rows] == [500, 500, 201]
        first_id = rows[0].id
    # A crash mid-send: chunk 1 was accepted by LINE but the process died before recording it.
    fake_line.faults.append(Fault("multicast", mode="accept_then_drop", times=1))
    service.deliver_broadcast(runtime.sender, broadcast_id=broadcast_id, workers=1)
    with runtime.database.write_session() as session:
        row = session.get(OutboundMessage, first_id)
        row.status = "sending"  # as a crashed process leaves it
        row.next_attempt_at = utc_now() - timedelta(minutes=5)
        session.add(row)
    runtime.sender.recover_stuck()
    later = utc_now() + timedelta(minutes=10)
    assert eventually(lambda: (service.deliver_broadcast(runtime.sender, broadcast_id=broadcast_id, now=later) or True)
                      and _report(app, broadcast_id, later).pending == 0)
    sent = _sent_to(fake_line)
    assert sorted(sent) == sorted(ids)  # everyone once, nobody twice
    report = _report(app, broadcast_id, later)
    assert (report.recipients, report.sent, report.failed, report.state) == (1201, 1201, 0, "done")


def _report(app, broadcast_id, now=None):
    with app.extensions["bot"].database.session() as session:
        return service.delivery_report(session, broadcast_id=broadcast_id, now=now)


def test_unfollowed_after_queueing_are_skipped(app, fake_line):
    runtime = app.extensions["bot"]
    ids = _many_users(app, 3)
    with runtime.database.write_session() as session:
        broadcast_id = service.create_broadcast(session, actor=STAFF, source="test", text="通知", image_url=None,
                                                link_url=None, audience_kind="all", audience_value=None).id
        user = session.exec(select(User).where(User.line_user_id == ids[0])).one()
        user.is_following = False
        session.add(user)
    service.deliver_broadcast(runtime.sender, broadcast_id=broadcast_id)
    assert sorted(_sent_to(fake_line)) == sorted(ids[1:])
    report = _report(app, broadcast_id)
    assert (report.sent, report.skipped) == (2, 1)


def test_scheduled_broadcast_waits_for_morning_and_can_be_cancelled(app, fake_line):
    runtime = app.extensions["bot"]
    _many_users(app, 2)
    tomorrow_night = (datetime.now(TAIPEI) + timedelta(days=1)).replace(hour=22, minute=30, second=0, microsecond=0)
    with runtime.database.write_session() as session:
        broadcast = service.create_broadcast(session, actor=STAFF, source="test", text="明早見", image_url=None,
                                             link_url=None, audience_kind="all", audience_value=None,
                                             scheduled_for=tomorrow_night, quiet_hours=(21, 8))
        broadcast_id = broadcast.id
    assert broadcast.status == "scheduled"
    assert broadcast.send_at.astimezone(TAIPEI).hour == 8 and broadcast.send_at > tomorrow_night
    runtime.sender.deliver_due()
    assert _sent_to(fake_line) == []
    assert _report(app, broadcast_id).state == "scheduled"
    with runtime.database.write_session() as session:
        assert service.cancel_broadcast(session, broadcast_id=broadcast_id, actor=STAFF) == 1
    runtime.sender.deliver_due(now=broadcast.send_at + timedelta(minutes=1))
    assert _sent_to(fake_line) == []
    assert _report(app, broadcast_id).state == "cancelled"


def test_compose_validation_and_preview_matches_delivery():
    assert service.validate(text="", image_url=None, link_url=None)
    assert service.validate(text="x", image_url="http://example.org/a.jpg", link_url=None)  # LINE needs https
    assert service.validate(text="x", image_url="https://example.org/a.gif", link_url=None)
    assert not service.validate(text="x", image_url="https://example.org/a.png", link_url="https://e.org/")
    messages = service.preview_messages(text="公告", image_url="https://example.org/a.png")
    assert messages == [{"type": "text", "text": "公告"},
                        {"type": "image", "originalContentUrl": "https://example.org/a.png",
                         "previewImageUrl": "https://example.org/a.png"}]


def test_chat_schedule_in_quiet_hours_moves_to_morning_and_waits(app, chat, fake_line):
    _population(app)
    staff = chat.as_user(STAFF)
    texts = staff.say("/公告 明天的講座改到下午三點")  # the text can come with the command
    assert "圖片或連結" in joined(texts)
    staff.say("https://example.org/poster.png")
    staff.tap("顧問")
    staff.tap("排程發送")
    night = (datetime.now(TAIPEI) + timedelta(days=1)).replace(hour=23, minute=0, second=0, microsecond=0)
    texts = staff.tap("選時間", value=night.strftime("%Y-%m-%dT%H:%M"))
    assert "[image https://example.org/poster.png]" in texts  # the preview shows the image too
    morning = night + timedelta(hours=9)
    assert f"{morning.year - 1911}/{morning:%m/%d} 08:00" in joined(texts)
    texts = staff.tap("確認發送")
    assert "已排程" in joined(texts) and "延到早上 8:00" in joined(texts)
    app.extensions["bot"].sender.deliver_due()
    assert fake_line.texts_for(uid(9)) == []
    with app.extensions["bot"].database.session() as session:
        row = session.exec(select(OutboundMessage).where(OutboundMessage.kind == "multicast")).one()
        assert row.recipients == [uid(9)] and row.next_attempt_at == morning.astimezone(row.next_attempt_at.tzinfo)


def test_chat_cancel_of_a_scheduled_broadcast_and_unknown_ids(app, chat, fake_line):
    _population(app)
    staff = chat.as_user(STAFF)
    assert "找不到這則公告" in joined(staff.say("/公告報告"))  # nothing sent yet
    staff.say("/公告 明天的講座照常舉行")
    staff.tap("不用")
    staff.tap("顧問")
    staff.tap("排程發送")
    morning = (datetime.now(TAIPEI) + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    staff.tap("選時間", value=morning.strftime("%Y-%m-%dT%H:%M"))
    assert "已排程" in joined(staff.tap("確認發送"))
    assert "找不到這則公告" in joined(staff.say("/取消公告 #999"))
    with app.extensions["bot"].database.session() as session:
        broadcast_id = session.exec(select(Broadcast.id)).one()
    assert "已取消公告" in joined(staff.say(f"/取消公告 #{broadcast_id}"))  # typed with the id 「/公告紀錄」 shows
    with app.extensions["bot"].database.session() as session:
        assert session.get(Broadcast, broadcast_id).status == "cancelled"
    assert "已取消" in joined(staff.say("/公告報告"))  # the latest one's report
    app.extensions["bot"].sender.deliver_due(now=morning + timedelta(minutes=1))
    assert fake_line.texts_for(uid(9)) == []


def test_report_and_history_with_a_number_are_not_a_new_announcement(app, chat, fake_line):
    # 「/公告報告 3」 (the help's own example) and 「/公告紀錄 2」 matched 「/公告」 and began composing
    # an announcement whose text was 「報告 3」.
    _population(app)
    staff = chat.as_user(STAFF)
    staff.say("/公告 明天下午停班一次")
    staff.tap("不用")
    staff.tap("所有好友")
    staff.tap("立即發送")
    staff.tap("確認發送")
    [sent] = _broadcasts(app)
    report = joined(staff.say(f"/公告報告 {sent.id}"))
    assert f"公告發送報告 #{sent.id}" in report and "附上圖片" not in report
    assert "附上圖片" not in joined(staff.say("/公告紀錄 2"))
    assert "找不到這則公告" in joined(staff.say("/公告報告 999"))
    assert len(_broadcasts(app)) == 1


def test_a_wrong_answer_to_the_attachment_says_what_it_wants_and_the_text_can_be_changed(app, chat):
    # The text given with 「/公告 …」 could not be changed (「上一步」: 「已經是第一題了」), and any
    # other answer to the attachment question got the same question twice.
    _population(app)
    staff = chat.as_user(STAFF)
    staff.say("/公告 3/10 說明會改到下午2點")
    texts = staff.say("確認")
    assert "這一題是附件" in joined(texts) and len(texts) == 2 and texts[0] != texts[1]
    assert "公告內容" in joined(staff.say("上一步"))
    staff.say("3/10 說明會改到下午3點")
    staff.tap("不用")
    staff.tap("所有好友")
    assert "下午3點" in joined(staff.tap("立即發送"))


def _broadcasts(app) -> list[Broadcast]:
    with app.extensions["bot"].database.session() as session:
        return list(session.exec(select(Broadcast).order_by(Broadcast.id)).all())
