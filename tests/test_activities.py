"""Activities (知能活動／成果展示): created in chat by staff, invitations to a segment with
報名/不克參加, stale and cancelled buttons, capacity, reminders once (quiet hours kept), LINE
check-in by code with every bad input, races that must count once, the sign-in sheet export, the
check-in screen and QR, and what the checkpoints count."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from activities import service
from activities.flows import settings_of
from activities.models import Activity, ActivityRegistration
from activities.settings import activity_settings
from bot.db import utc_now
from bot.messages import encode_postback
from bot.models import RoleGrant, User
from bot.timeutil import TAIPEI
from companies.models import Company, CompanyMember
from dialogs.core_flows import CONSENT_VERSION
from letters.models import Letter, LetterVersion
from scheduler.models import Reminder
from tests.conftest import eventually, joined

STAFF = "U" + "5" * 32
ADVISOR = "U" + "6" * 32


def uid(n: int) -> str:
    return f"U{n:032d}"


def person(session, user_id: str, *, role: str | None = None) -> None:
    session.add(User(line_user_id=user_id, consent_version=CONSENT_VERSION, display_name=f"名{user_id[-3:]}"))
    if role:
        session.add(RoleGrant(line_user_id=user_id, role=role, granted_by="test"))


def signed_company(session, n: int, *, owner: str, county: str = "臺北市", advisor: str | None = ADVISOR,
                   signed_at: datetime | None = None) -> Company:
    """A company with its owner and a signed letter (what the checkpoints count)."""
    company = Company(name=f"店{n}", tax_id=None, county=county, verdict="eligible", letter_status="signed",
                      advisor_line_user_id=advisor)
    session.add(company)
    session.flush()
    session.add(CompanyMember(company_id=company.id, line_user_id=owner, role="owner"))
    letter = Letter(company_id=company.id, owner_line_user_id=owner, status="signed")
    session.add(letter)
    session.flush()
    session.add(LetterVersion(letter_id=letter.id, version_no=1, canonical_json="{}", sha256="0" * 64, consent_sha256="0" * 64,
                              signer_line_user_id=owner, signed_name="王", channel="chat",
                              signed_at=signed_at or utc_now() - timedelta(days=30)))
    return company


def _population(app) -> None:
    with app.extensions["bot"].database.session() as session:
        person(session, STAFF, role="staff")
        person(session, ADVISOR, role="advisor")
        for n in (1, 2, 3):
            person(session, uid(n))
            signed_company(session, n, owner=uid(n))
        person(session, uid(4))  # follows the account, no company


def _activity(app, *, starts_in: timedelta, capacity: int | None = None, kind: str = "workshop",
              minutes: int = 120) -> Activity:
    config = app.config
    with app.extensions["bot"].database.write_session() as session:
        # created in the past so a start "already begun" is allowed: validation is for new input
        start = utc_now() + starts_in
        activity = service.create_activity(session, actor=STAFF, source="test", kind=kind, title="LINE 經營實作課",
                                           starts_at=start, minutes=minutes, place="臺北市商業處 3F",
                                           online_url=None, capacity=capacity, settings=activity_settings(config),
                                           now=start - timedelta(days=3))
        session.expunge(activity)
        return activity


def _registration(app, activity_id: int, user_id: str) -> ActivityRegistration | None:
    with app.extensions["bot"].database.session() as session:
        return session.exec(select(ActivityRegistration).where(ActivityRegistration.activity_id == activity_id,
                                                                ActivityRegistration.line_user_id == user_id)).first()


def _join(chat, user_id: str, activity_id: int) -> list[str]:
    """Tap 「報名」 of the invitation; the person's chat (for tapping on) is ``chat.people[user_id]``."""
    people = chat.__dict__.setdefault("people", {})
    person_chat = people.setdefault(user_id, chat.as_user(user_id))
    return person_chat.send("postback", data=encode_postback(c="act_join", arg=activity_id))


def test_staff_creates_an_activity_in_chat_and_the_segment_is_invited(app, chat, fake_line):
    _population(app)
    staff = chat.as_user(STAFF)
    assert "哪一種活動" in joined(staff.say("/活動"))
    assert "活動名稱" in joined(staff.tap("知能活動"))
    assert "什麼時候開始" in joined(staff.say("LINE 官方帳號經營實作課"))
    day = (datetime.now(TAIPEI) + timedelta(days=5)).replace(hour=14, minute=0, second=0, microsecond=0)
    assert "多長" in joined(staff.tap("選時間", value=day.strftime("%Y-%m-%dT%H:%M")))
    staff.tap("2 小時")
    assert "線上活動請貼上會議連結" in joined(staff.say("線上"))  # online needs its link
    staff.say("臺北市商業處 3F")
    assert "1 到 10000" in joined(staff.say("很多人"))  # an impossible capacity is asked again
    staff.say("三十人")
    staff.tap("依縣市")
    texts = staff.tap("臺北市")
    summary = joined(texts)
    assert "確認活動與邀請" in summary and "30 人" in summary and "LINE 官方帳號經營實作課" in summary
    card = joined(staff.tap("確認"))
    assert "活動已建立" in card and "已發給 3 人" in card
    with app.extensions["bot"].database.session() as session:
        activity = session.exec(select(Activity)).one()
    assert activity.kind == "workshop" and activity.capacity == 30 and len(activity.invitations) == 1
    assert activity.starts_at == day.astimezone(timezone.utc) and activity.ends_at - activity.starts_at == timedelta(hours=2)
    assert activity.checkin_code in card
    # The invitation reaches the segment (multicast) with buttons bound to the activity.
    assert eventually(lambda: any("LINE 官方帳號經營實作課" in t for t in fake_line.texts_for(uid(1))))
    invitation = next(t for t in fake_line.texts_for(uid(1)) if "經營實作課" in t)
    assert "[報名]" in invitation and "[不克參加]" in invitation
    assert not any("經營實作課" in t for t in fake_line.texts_for(uid(4)))  # not in the segment
    # The sender gets the invitation's delivery report, as for any announcement (waited for here, so
    # it cannot land in a later test).
    assert eventually(lambda: any("公告發送報告" in t for t in fake_line.texts_for(STAFF)))
    # Owners cannot use the staff command (declared role).
    assert "這個功能目前無法使用" in joined(chat.as_user(uid(1)).say("/活動"))


def test_register_name_already_full_decline_cancelled_and_over(app, chat, fake_line):
    _population(app)
    activity = _activity(app, starts_in=timedelta(days=3), capacity=2)
    texts = joined(_join(chat, uid(1), activity.id))
    assert "報名成功" in texts and "姓名" in texts  # the sign-in sheet's name, asked once
    owner = chat.as_user(uid(1))
    assert "1 到 30 個字" in joined(owner.say("https://example.org"))
    assert "王小明" in joined(owner.say("王小明"))
    assert _registration(app, activity.id, uid(1)).attendee_name == "王小明"
    assert "已經報名" in joined(_join(chat, uid(1), activity.id))  # a second tap counts once
    assert "報名成功" in joined(_join(chat, uid(2), activity.id))
    chat.people[uid(2)].tap("略過")
    assert "額滿" in joined(_join(chat, uid(3), activity.id))  # capacity 2
    # Giving the seat back frees it (and drops that person's reminders).
    assert "不克參加" in joined(chat.as_user(uid(2)).send("postback", data=encode_postback(c="act_decline", arg=activity.id)))
    with app.extensions["bot"].database.session() as session:
        assert not session.exec(select(Reminder).where(Reminder.recipient == uid(2),
                                                       Reminder.status == "pending")).all()
        assert session.exec(select(Reminder).where(Reminder.recipient == uid(1), Reminder.status == "pending")).all()
    assert "報名成功" in joined(_join(chat, uid(3), activity.id))
    with app.extensions["bot"].database.write_session() as session:
        people = service.cancel_activity(session, activity_id=activity.id, actor=STAFF)
    assert sorted(people) == [uid(1), uid(3)]
    assert "已經取消" in joined(_join(chat, uid(2), activity.id))  # a stale invitation says so
    over = _activity(app, starts_in=timedelta(hours=-5))
    assert "已經結束" in joined(_join(chat, uid(2), over.id))
    assert "找不到這場活動" in joined(_join(chat, uid(2), 999999))
    # A tampered button without an id: the person's own registrations, nothing else.
    assert "沒有報名任何活動" in joined(chat.as_user(uid(2)).send("postback", data="c=act_join&arg=abc"))


def test_check_in_by_code_and_every_bad_input(app, chat):
    _population(app)
    now_open = _activity(app, starts_in=timedelta(minutes=30))  # check-in opens an hour before
    with app.extensions["bot"].database.write_session() as session:
        assert service.register(session, activity_id=now_open.id, line_user_id=uid(1)).code == "registered"
        service.set_attendee_name(session, activity_id=now_open.id, line_user_id=uid(1), name="王小明")
    owner = chat.as_user(uid(1))
    assert "簽到碼" in joined(owner.say("簽到"))  # no code: how to do it
    card = joined(owner.say(f"簽到 {now_open.checkin_code}"))
    assert "簽到完成" in card and "店1" in card
    assert "不用重複簽到" in joined(owner.say(f"簽到{now_open.checkin_code}"))
    # Full-width digits and a colon are understood.
    full = now_open.checkin_code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert "不用重複簽到" in joined(owner.say(f"簽到：{full}"))
    with app.extensions["bot"].database.session() as session:
        assert service.counts(session, activity_ids=[now_open.id])[now_open.id].checked_in == 1
    # Someone with no company who did not register: a walk-in, told the company column is empty.
    walker = chat.as_user(uid(4))
    walk_in = joined(walker.say(f"簽到 {now_open.checkin_code}"))
    assert "現場報名" in walk_in and "未登記公司" in walk_in and "姓名" in walk_in
    # The code sent again while the name is asked is a check-in (counted once), not the name.
    assert "不用重複簽到" in joined(walker.say(f"簽到碼{now_open.checkin_code}"))
    assert _registration(app, now_open.id, uid(4)).attendee_name is None
    # Not open yet, late, expired, cancelled.
    later = _activity(app, starts_in=timedelta(hours=3))
    assert "還沒開放簽到" in joined(chat.as_user(uid(2)).say(f"簽到 {later.checkin_code}"))
    late = _activity(app, starts_in=timedelta(minutes=-90), minutes=180)
    assert "截止" in joined(chat.as_user(uid(2)).say(f"簽到 {late.checkin_code}"))
    past = _activity(app, starts_in=timedelta(days=-2))
    assert "過期" in joined(chat.as_user(uid(2)).say(f"簽到 {past.checkin_code}"))
    with app.extensions["bot"].database.write_session() as session:
        service.cancel_activity(session, activity_id=later.id, actor=STAFF)
    assert "取消" in joined(chat.as_user(uid(2)).say(f"簽到 {later.checkin_code}"))
    # Wrong codes: told so, and after five the person must wait (a 4-digit code is not guessable).
    taken = {a.checkin_code for a in (now_open, later, late, past)}
    wrong = next(f"{n:04d}" for n in range(10000) if f"{n:04d}" not in taken)
    guesser = chat.as_user(uid(3))
    for _ in range(5):
        assert "不正確" in joined(guesser.say(f"簽到 {wrong}"))
    assert "錯太多次" in joined(guesser.say(f"簽到 {now_open.checkin_code}"))
    assert _registration(app, now_open.id, uid(3)) is None
    # A question that starts with 簽到 goes to the FAQ, not to the check-in.
    assert "簽到碼" not in joined(chat.as_user(uid(2)).say("簽到表要寫什麼？"))
    # 「報到」 is the word many use for it.
    assert "簽到完成" in joined(chat.as_user(uid(2)).say(f"報到 {now_open.checkin_code}"))
    # The code alone, while a window is open, is a check-in too; a wrong one counts as a miss.
    assert "簽到完成" in joined(chat.as_user(uid(5)).say(now_open.checkin_code))
    assert "不正確" in joined(chat.as_user(uid(6)).say(wrong))


def test_a_bare_number_is_free_text_when_no_check_in_is_open(app, chat):
    _population(app)
    later = _activity(app, starts_in=timedelta(days=3))
    texts = joined(chat.as_user(uid(2)).say(later.checkin_code))
    assert "簽到" not in texts and "不正確" not in texts
    assert _registration(app, later.id, uid(2)) is None


def test_full_activity_refuses_a_walk_in(app, chat):
    _population(app)
    activity = _activity(app, starts_in=timedelta(minutes=10), capacity=1)
    with app.extensions["bot"].database.write_session() as session:
        service.register(session, activity_id=activity.id, line_user_id=uid(1))
    assert "名額已滿" in joined(chat.as_user(uid(2)).say(f"簽到 {activity.checkin_code}"))
    assert _registration(app, activity.id, uid(2)) is None
    # A programme that takes no walk-ins (campaign.activities.checkin.walk_in: false) says so.
    from dataclasses import replace

    strict = replace(activity_settings(app.config), walk_in=False)
    other = _activity(app, starts_in=timedelta(minutes=10))
    with app.extensions["bot"].database.write_session() as session:
        outcome = service.check_in(session, code=other.checkin_code, line_user_id=uid(2), settings_of=lambda _: strict)
    assert outcome.code == "not_registered" and _registration(app, other.id, uid(2)) is None


def _race(app, work, count: int = 2) -> list:
    """Run ``work(session)`` in ``count`` threads at once, each in its own write transaction."""
    barrier, results, database = threading.Barrier(count), [], app.extensions["bot"].database

    def run():
        barrier.wait()
        with database.write_session() as session:
            results.append(work(session))

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return results


def test_two_taps_at_once_and_the_last_seat_count_once(app, chat):
    _population(app)
    activity = _activity(app, starts_in=timedelta(minutes=10), capacity=2)
    codes = _race(app, lambda s: service.register(s, activity_id=activity.id, line_user_id=uid(1)).code)
    assert sorted(codes) == ["already", "registered"]
    codes = _race(app, lambda s: service.register(s, activity_id=activity.id, line_user_id=uid(2)).code, 1) + \
        _race(app, lambda s: service.register(s, activity_id=activity.id, line_user_id=uid(3)).code, 1)
    assert sorted(codes) == ["full", "registered"]
    settings = settings_of(app.config)
    codes = _race(app, lambda s: service.check_in(s, code=activity.checkin_code, line_user_id=uid(1),
                                                  settings_of=settings).code)
    assert sorted(codes) == ["already", "checked_in"]
    # Two people at once for one last seat at the door.
    other = _activity(app, starts_in=timedelta(minutes=10), capacity=1)
    people = iter([uid(2), uid(3)])
    lock = threading.Lock()

    def walk_in(session):
        with lock:
            who = next(people)
        return service.check_in(session, code=other.checkin_code, line_user_id=who, settings_of=settings).code
    assert sorted(_race(app, walk_in)) == ["full", "walk_in"]
    # Two postbacks of the same tap delivered in one webhook: one registration.
    third = _activity(app, starts_in=timedelta(days=2))
    owner = chat.as_user(uid(1))
    events = [owner.event("postback", data=encode_postback(c="act_join", arg=third.id)) for _ in range(2)]
    assert owner.post(events).status_code == 200
    assert app.extensions["bot"].worker.wait_idle(10)
    with app.extensions["bot"].database.session() as session:
        def people_of(activity_id):
            return sorted(session.exec(select(ActivityRegistration.line_user_id).where(
                ActivityRegistration.activity_id == activity_id)).all())
        assert people_of(activity.id) == [uid(1), uid(2)]
        assert len(people_of(other.id)) == 1 and people_of(third.id) == [uid(1)]


def test_reminders_the_day_before_and_an_hour_before_are_sent_once(app, chat, fake_line):
    from scheduler.scheduled import tick

    _population(app)
    start = (datetime.now(TAIPEI) + timedelta(days=4)).replace(hour=8, minute=30, second=0, microsecond=0)
    activity = _activity(app, starts_in=start - datetime.now(TAIPEI))
    _join(chat, uid(1), activity.id)
    chat.people[uid(1)].tap("略過")
    _join(chat, uid(2), activity.id)
    chat.as_user(uid(2)).send("postback", data=encode_postback(c="act_decline", arg=activity.id))
    before = len(fake_line.texts_for(uid(1)))
    day_before = start - timedelta(days=1) + timedelta(hours=1, minutes=31)  # 10:01 the day before
    for _ in range(2):  # a second tick (or scheduler) sends nothing again
        tick(app, now=day_before)
    texts = fake_line.texts_for(uid(1))[before:]
    assert len(texts) == 1 and "明天 08:30" in texts[0] and "LINE 經營實作課" in texts[0]
    # An hour before is 07:30, in quiet hours (21:00–08:00): held until 08:00, still before the start.
    assert tick(app, now=start - timedelta(minutes=61)).claimed == 0
    tick(app, now=start - timedelta(minutes=29))
    tick(app, now=start - timedelta(minutes=28))
    texts = fake_line.texts_for(uid(1))[before:]
    assert len(texts) == 2 and "再 1 小時就開始" in texts[1]
    assert not any("LINE 經營實作課" in t and "明天" in t for t in fake_line.texts_for(uid(2)))  # declined


def test_sign_in_sheet_export_screen_qr_and_dashboard(app, chat, live_server):
    import requests

    from tests.conftest import STAFF_TOKEN

    _population(app)
    app.config["LINE_BASIC_ID"] = "@123abcde"
    try:
        activity = _activity(app, starts_in=timedelta(minutes=20))
        with app.extensions["bot"].database.write_session() as session:
            service.register(session, activity_id=activity.id, line_user_id=uid(1))
            service.set_attendee_name(session, activity_id=activity.id, line_user_id=uid(1), name="=王小明")
        chat.as_user(uid(1)).say(f"簽到 {activity.checkin_code}")
        runner = app.test_cli_runner()
        result = runner.invoke(args=["export", "activities", "--format", "csv"])
        assert result.exit_code == 0, result.output
        lines = result.output.lstrip("\ufeff").splitlines()
        assert lines[0].startswith("活動編號,類型,活動名稱") and len(lines) == 2
        assert "店1" in lines[1] and "'=王小明" in lines[1] and "LINE 簽到" in lines[1]  # no formula for Excel
        # The check-in screen and its QR: signed links only.
        texts = joined(chat.as_user(STAFF).say(f"/簽到碼 #{activity.id}"))
        page = next(word for word in texts.split() if "/checkin?s=" in word)
        path = page.split("://", 1)[1].split("/", 1)[1]
        shown = requests.get(f"{live_server.url}/{path}", timeout=5)
        assert shown.status_code == 200 and f"簽到 {activity.checkin_code}" in shown.text and "<svg" in shown.text
        assert requests.get(f"{live_server.url}/activities/{activity.id}/checkin?s=forged", timeout=5).status_code == 404
        png = requests.get(f"{live_server.url}/{path.replace('/checkin?', '/qr.png?')}", timeout=5)
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        link = service.checkin_link(activity, "@123abcde")
        assert link == f"https://line.me/R/oaMessage/%40123abcde/?%E7%B0%BD%E5%88%B0%20{activity.checkin_code}"
        headers = {"Authorization": f"Bearer {STAFF_TOKEN}"}
        listing = requests.get(f"{live_server.url}/staff/api/activities", headers=headers, timeout=5).json()
        assert listing["activities"][0]["checked_in"] == 1 and listing["activities"][0]["registered"] == 1
        assert requests.get(f"{live_server.url}/staff/api/activities", timeout=5).status_code == 403
        detail = requests.get(f"{live_server.url}/staff/activities/{activity.id}", headers=headers, timeout=5)
        assert detail.status_code == 200 and "=王小明" in detail.text and "<svg" in detail.text
        created = requests.post(f"{live_server.url}/staff/activities", headers=headers, timeout=5, data={
            "kind": "showcase", "title": "成果展", "starts_at": "2020-01-01T10:00", "place": ""})
        assert created.status_code == 422 and "已經過了" in created.text and "地點" in created.text
    finally:
        app.config["LINE_BASIC_ID"] = None


def test_checkpoint_figures_for_a_seeded_campaign(app):
    """Three workshops (one with no check-in yet, one cancelled) and a showcase: sessions held with
    a sign-in sheet, 人次, each company's share — in `checkpoints --json` and the evidence pack."""
    import io
    import json
    import zipfile

    _population(app)
    database = app.extensions["bot"].database
    held = [_activity(app, starts_in=timedelta(days=-d)) for d in (10, 5)]
    empty = _activity(app, starts_in=timedelta(days=-3))
    cancelled = _activity(app, starts_in=timedelta(days=-2))
    show = _activity(app, starts_in=timedelta(days=-1), kind="showcase")
    with database.write_session() as session:
        for activity, people in ((held[0], [uid(1), uid(2), uid(4)]), (held[1], [uid(1)]), (cancelled, [uid(3)]),
                                 (show, [uid(3), uid(4)])):
            for who in people:
                row = service.register(session, activity_id=activity.id, line_user_id=who,
                                       now=activity.starts_at - timedelta(days=1)).registration
                service.staff_check_in(session, registration_id=row.id, actor=STAFF, now=activity.starts_at)
        service.cancel_activity(session, activity_id=cancelled.id, actor=STAFF)
        companies = {c.name: c.id for c in session.exec(select(Company)).all()}
    result = app.test_cli_runner().invoke(args=["checkpoints", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    kpis = {k["id"]: k for k in payload["kpis"]}
    assert kpis["activities"]["done"] == 2 and kpis["activities"]["status"] != "not_tracked"  # empty one not held
    assert kpis["attendance"]["done"] == 4  # 3 + 1; the no-company walk-in counts as 人次
    assert kpis["showcase"]["done"] == 1 and kpis["showcase"]["status"] == "done"
    rows = {row["name"]: row for row in payload["companies"]}
    assert "attendance" not in rows["店3"]["missing"]  # attending is no company's duty: never "missing"
    # The evidence pack's sign-in sheets and attendance columns.
    from checkpoints.evidence import export_to_bytes
    from checkpoints.settings import programme

    program = programme(app.config)
    data, summary = export_to_bytes(database, program=program, checkpoint=program.checkpoints[-1],
                                    as_of=utc_now(), config=app.config, actor="test")
    assert summary.counts["activities"] == 4 and summary.counts["activity_checkins"] == 6
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert any(name.endswith("活動簽到表.xlsx") for name in names)
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(zipfile.ZipFile(io.BytesIO(data)).read(
        next(n for n in names if n.endswith("活動簽到表.xlsx")))))
    summary_rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert [row[5] for row in summary_rows[1:]] == [3, 1, 0, 2]
    assert book.worksheets[1].max_row == 4 and len(companies) == 3  # held[0]: header + 3 people
    # Each company's 人次 in the company list: 店1 two workshops, 店3 only the showcase.
    listing = load_workbook(io.BytesIO(zipfile.ZipFile(io.BytesIO(data)).read(
        next(n for n in names if n.endswith("輔導企業清冊.xlsx"))))).worksheets[0]
    table = list(listing.iter_rows(values_only=True))
    columns = {name: table[0].index(name) for name in ("企業名稱", "知能活動人次", "成果展示人次")}
    per_company = {row[columns["企業名稱"]]: (row[columns["知能活動人次"]], row[columns["成果展示人次"]])
                   for row in table[1:]}
    assert per_company["店1"] == (2, 0) and per_company["店2"] == (1, 0) and per_company["店3"] == (0, 1)


@pytest.mark.browser
@pytest.mark.skipif(not __import__("pathlib").Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium")
def test_dashboard_activity_in_headless_chromium_on_a_phone(app, chat, live_server, fake_line):
    """Create on the phone, invite a segment, someone registers in LINE, staff sign them in."""
    from playwright.sync_api import sync_playwright

    from staff import service as staff_service

    _population(app)
    with app.extensions["bot"].database.session() as session:
        token = staff_service.create_login_token(session, line_user_id=STAFF)
    start = (datetime.now(TAIPEI) + timedelta(days=2)).replace(hour=14, minute=0, second=0, microsecond=0)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        page.goto(f"{live_server.url}/staff/login/{token}")
        page.click("#login-button")
        page.click("nav >> text=活動")
        page.check("input[name=kind][value=showcase]")
        page.fill("input[name=title]", "成果展示交流會")
        page.fill("input[name=starts_at]", start.strftime("%Y-%m-%dT%H:%M"))
        page.fill("input[name=place]", "臺北市商業處 1F")
        page.fill("input[name=capacity]", "40")
        page.click("#create-button")
        page.wait_for_selector("#code")
        code = page.inner_text("#code").strip()
        assert len(code) == 4 and code.isdigit()
        page.check("input[name=audience_kind][value=letter]")
        page.select_option("select[name=value_letter]", "signed")
        page.click("#invite-button")
        page.wait_for_selector("#flash")
        assert "邀請已排入發送" in page.inner_text("#flash")
        assert eventually(lambda: any("成果展示交流會" in t for t in fake_line.texts_for(uid(2))))
        assert eventually(lambda: any("公告發送報告" in t for t in fake_line.texts_for(STAFF)))
        with app.extensions["bot"].database.session() as session:
            activity_id = session.exec(select(Activity.id)).one()
        _join(chat, uid(2), activity_id)
        page.reload()
        assert page.inner_text("#registered") == "1"
        page.click("#sheet button")  # 代為簽到: late, or no phone at hand
        page.wait_for_selector("#sheet tr.done")
        assert page.inner_text("#checked-in") == "1" and "工作人員" in page.inner_text("#sheet")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        browser.close()


def test_cancelling_a_registration_in_words(app, chat):
    """「取消報名」「我不去了」 list the person's registrations to tap one off (the FAQ read them as quitting
    the programme, 「活動取消」-like words became staff tickets)."""
    _population(app)
    activity = _activity(app, starts_in=timedelta(days=3))
    _join(chat, uid(1), activity.id)
    owner = chat.people[uid(1)]
    owner.tap("略過")
    for words in ("取消報名", "我不去了"):
        text = joined(owner.say(words))
        assert "LINE 經營實作課" in text and "要取消哪一場" in text
    assert "已記錄您不克參加" in joined(owner.tap("不克參加"))
    assert _registration(app, activity.id, uid(1)).status == "declined"
    assert "沒有報名任何活動" in joined(owner.say("取消報名"))
