"""Scheduler: milestones to the right audiences, exactly once, at a decent hour; visit reminders;
claims that hold under concurrent ticks; dead letters visible to staff."""
from __future__ import annotations

import json
import os
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from bot.devmode.fake_line import Fault
from bot.models import OutboundMessage, RoleGrant, User
from bot.timeutil import TAIPEI
from companies.models import Company, CompanyMember
from scheduler.models import Reminder
from scheduler.service import run_tick, schedule_visit_reminders
from scheduler.settings import QuietHours, load_schedules, parse_programme_datetime
from tests.conftest import STAFF_TOKEN, eventually
from visits.booking import book_visit
from visits.models import Visit

OWNER_A, OWNER_B, ADVISOR, STAFF = ("U" + c * 32 for c in "1234")


def taipei(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TAIPEI)


def tick(app, when: str) -> dict:
    result = app.test_cli_runner().invoke(args=["tick", "--now", when, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def texts(fake_line, user: str) -> list[str]:
    return fake_line.texts_for(user)


def add_user(session, user_id: str, **fields) -> None:
    session.add(User(line_user_id=user_id, **fields))


def add_company(session, *, name: str, owner: str | None, advisor: str | None = ADVISOR, **fields) -> Company:
    company = Company(name=name, advisor_line_user_id=advisor, **fields)
    session.add(company)
    session.flush()
    if owner:
        session.add(CompanyMember(company_id=company.id, line_user_id=owner, role="owner"))
    return company


@pytest.fixture
def people(app):
    """Owner A: eligible, no letter. Owner B: letter signed, tool not adopted. One advisor, one staff."""
    database = app.extensions["bot"].database
    with database.write_session() as session:
        for user in (OWNER_A, OWNER_B, ADVISOR, STAFF):
            add_user(session, user)
        session.add(RoleGrant(line_user_id=ADVISOR, role="advisor"))
        session.add(RoleGrant(line_user_id=STAFF, role="staff"))
        add_company(session, name="阿美小吃", owner=OWNER_A, verdict="eligible", letter_status="none")
        add_company(session, name="好日子花店", owner=OWNER_B, verdict="eligible", letter_status="signed")
    return database


# --- data --------------------------------------------------------------------------------

def test_programme_dates_come_from_the_seed_data(app):
    schedule = load_schedules(app.config["PROGRAMS_FILE"])["gonghao-2023"]
    close = schedule.milestone("proposal_close")
    assert close.at == taipei("2023-03-16T17:00").astimezone(timezone.utc)
    assert schedule.milestone("letters_due").at == taipei("2023-03-18T17:00").astimezone(timezone.utc)
    assert schedule.milestone("tool_adoption").at.astimezone(TAIPEI).date().isoformat() == "2023-07-31"
    assert {m.code for m in schedule.milestones} >= {"checkpoint_1", "checkpoint_2", "coaching_end",
                                                      "capability_pretest", "capability_posttest"}
    assert close.offsets == ("7d", "3d", "1d", "morning")
    assert schedule.offset_moment(close, "3d") == taipei("2023-03-13T09:00")
    assert parse_programme_datetime("112/02/17 17:00") == taipei("2023-02-17T17:00")


def test_quiet_hours_window_crosses_midnight():
    quiet = QuietHours()
    assert quiet.contains(taipei("2023-03-10T21:00"))
    assert quiet.contains(taipei("2023-03-11T02:00"))
    assert not quiet.contains(taipei("2023-03-11T08:00"))
    assert quiet.next_allowed(taipei("2023-03-10T23:30")) == taipei("2023-03-11T08:00")
    assert quiet.next_allowed(taipei("2023-03-11T06:00")) == taipei("2023-03-11T08:00")
    assert quiet.next_allowed(taipei("2023-03-11T12:00")) == taipei("2023-03-11T12:00")


# --- milestones --------------------------------------------------------------------------

def test_deadline_reminder_reaches_only_owners_it_concerns_once(app, fake_line, people):
    report = tick(app, "2023-03-11T09:00:00+08:00")  # 7 days before the letters deadline (3/18)
    assert report["materialised"] >= 1
    a_texts = texts(fake_line, OWNER_A)
    assert len(a_texts) == 1 and "意向書" in a_texts[0] and "7 天" in a_texts[0]
    assert texts(fake_line, OWNER_B) == []  # letter already signed: not concerned
    advisor = "\n".join(texts(fake_line, ADVISOR))
    assert "意向書" in advisor and "提案申請截止" in advisor
    before = fake_line.record_count()
    again = tick(app, "2023-03-11T09:00:00+08:00")
    assert again["claimed"] == 0 and fake_line.record_count() == before
    later = tick(app, "2023-03-11T15:00:00+08:00")
    assert later["claimed"] == 0 and fake_line.record_count() == before


def test_reason_gone_before_due_means_no_reminder(app, fake_line, people):
    tick(app, "2023-03-11T09:00:00+08:00")
    with people.write_session() as session:
        company = session.exec(select(Company).where(Company.name == "阿美小吃")).one()
        company.letter_status = "signed"
        session.add(company)
    tick(app, "2023-03-15T09:00:00+08:00")  # 3 days before: A has signed meanwhile
    assert len(texts(fake_line, OWNER_A)) == 1
    assert any("還有 3 天" in text and "意向書" in text for text in texts(fake_line, ADVISOR))


def test_quiet_hours_hold_until_morning(app, fake_line, people):
    report = tick(app, "2023-03-11T22:30:00+08:00")
    assert report["held_quiet_hours"] >= 1 and report["claimed"] == 0
    assert fake_line.record_count() == 0
    report = tick(app, "2023-03-12T08:00:00+08:00")
    assert report["materialised"] >= 1 and texts(fake_line, OWNER_A)
    sent_at = [r["at"] for r in fake_line.records]
    assert sent_at


def test_stopped_and_unfollowed_people_get_nothing(app, fake_line, people):
    with people.write_session() as session:
        a = session.exec(select(User).where(User.line_user_id == OWNER_A)).one()
        a.reminders_enabled = False
        advisor = session.exec(select(User).where(User.line_user_id == ADVISOR)).one()
        advisor.is_following = False
        session.add_all([a, advisor])
    tick(app, "2023-03-11T09:00:00+08:00")
    assert texts(fake_line, OWNER_A) == [] and texts(fake_line, ADVISOR) == []
    assert texts(fake_line, STAFF)  # staff still hear about the proposal deadline


def test_several_overdue_offsets_send_only_the_latest(app, fake_line, people):
    tick(app, "2023-03-16T09:00:00+08:00")  # first tick ever on the closing day
    close = [text for text in texts(fake_line, ADVISOR) if "提案申請截止" in text]
    assert len(close) == 1 and "今天" in close[0]
    with people.write_session() as session:
        outcomes = Counter(r.outcome for r in session.exec(select(Reminder).where(
            Reminder.milestone == "proposal_close")).all())
    assert outcomes["superseded"] == 3


# --- visits ------------------------------------------------------------------------------

@pytest.fixture
def booked(app, people):
    schedule = load_schedules(app.config["PROGRAMS_FILE"])["gonghao-2023"]
    with people.write_session() as session:
        company = session.exec(select(Company).where(Company.name == "好日子花店")).one()
        visit = book_visit(session, company_id=company.id, booked_by=OWNER_B, mode="onsite",
                           scheduled_at=taipei("2023-05-10T14:00"), schedule=schedule,
                           now=taipei("2023-05-01T10:00"))
    # The booking's notice to the advisor goes out now: the faults a test injects are meant for
    # the reminders, not for this push racing them through the app's own outbox pump.
    sender = app.extensions["bot"].sender
    assert eventually(lambda: sender.deliver_due() >= 0 and _outbox_settled(people))
    return visit.id


def _outbox_settled(database) -> bool:
    with database.session() as session:
        return session.exec(select(OutboundMessage.id).where(
            OutboundMessage.status.in_(("pending", "sending")))).first() is None


def test_visit_reminders_evening_hour_and_log_prompt(app, fake_line, booked):
    tick(app, "2023-05-09T20:00:00+08:00")
    owner = texts(fake_line, OWNER_B)
    assert any("明天 14:00" in text and "現地" in text for text in owner)
    assert any("明天 14:00" in text for text in texts(fake_line, ADVISOR))
    owner_push = [m for m in fake_line.messages_for(OWNER_B) if "明天" in m.get("text", "")][0]
    labels = [item["action"]["label"] for item in owner_push["quickReply"]["items"]]
    assert labels == ["確認訪視", "申請改期"]
    tick(app, "2023-05-10T13:00:00+08:00")
    assert any("快開始" in text for text in texts(fake_line, OWNER_B))
    assert not any("結束了嗎" in text for text in texts(fake_line, ADVISOR))
    tick(app, "2023-05-10T16:00:00+08:00")
    prompt = [m for m in fake_line.messages_for(ADVISOR) if "結束了嗎" in m.get("text", "")]
    assert len(prompt) == 1
    assert prompt[0]["quickReply"]["items"][0]["action"]["text"] == "登錄訪視"
    assert not any("結束了嗎" in text for text in texts(fake_line, OWNER_B))


def test_no_log_prompt_when_the_advisor_already_logged_that_visit(app, fake_line, booked):
    with app.extensions["bot"].database.write_session() as session:
        visit = session.get(Visit, booked)
        session.add(Visit(company_id=visit.company_id, advisor_line_user_id=ADVISOR, status="done",
                          visited_at=taipei("2023-05-10T14:05"), mode="onsite"))
    report = tick(app, "2023-05-10T16:00:00+08:00")
    assert report["skipped"].get("already logged") == 1
    assert not any("結束了嗎" in text for text in texts(fake_line, ADVISOR))


def test_cancelled_visit_is_not_reminded(app, fake_line, booked):
    with app.extensions["bot"].database.write_session() as session:
        visit = session.get(Visit, booked)
        visit.status = "cancelled"
        session.add(visit)
    report = tick(app, "2023-05-09T20:00:00+08:00")
    assert report["skipped"].get("visit cancelled or done") == 2
    assert not any("明天" in text for text in texts(fake_line, OWNER_B) + texts(fake_line, ADVISOR))


def test_moved_visit_reminds_only_the_new_time(app, fake_line, booked):
    schedule = load_schedules(app.config["PROGRAMS_FILE"])["gonghao-2023"]
    with app.extensions["bot"].database.write_session() as session:
        visit = session.get(Visit, booked)
        visit.scheduled_at = taipei("2023-05-12T10:00")
        session.add(visit)
        session.flush()
        schedule_visit_reminders(session, visit=visit, schedule=schedule, now=taipei("2023-05-02T10:00"))
    tick(app, "2023-05-09T20:00:00+08:00")
    assert not any("明天" in text for text in texts(fake_line, OWNER_B))
    tick(app, "2023-05-11T20:00:00+08:00")
    assert any("明天 10:00" in text for text in texts(fake_line, OWNER_B))


def test_hour_before_an_early_visit_waits_for_quiet_hours_to_end(app, people):
    schedule = load_schedules(app.config["PROGRAMS_FILE"])["gonghao-2023"]
    with people.write_session() as session:
        company = session.exec(select(Company).where(Company.name == "好日子花店")).one()
        visit = Visit(company_id=company.id, advisor_line_user_id=ADVISOR, scheduled_at=taipei("2023-05-10T08:30"))
        session.add(visit)
        session.flush()
        rows = schedule_visit_reminders(session, visit=visit, schedule=schedule, now=taipei("2023-05-01T10:00"))
        hour = {r.due_at for r in rows if r.kind == "visit_hour"}
    assert hour == {taipei("2023-05-10T08:00")}


# --- exactly once under concurrency, dead letters ---------------------------------------

def _many_visit_reminders(database, count: int) -> None:
    due = taipei("2023-05-10T10:00")
    with database.write_session() as session:
        users = [f"U{i:032d}" for i in range(count)]
        for user in users:
            add_user(session, user)
        company = add_company(session, name="大量測試", owner=None, letter_status="signed")
        visit = Visit(company_id=company.id, advisor_line_user_id=ADVISOR, scheduled_at=due + timedelta(hours=1))
        session.add(visit)
        session.flush()
        for user in users:
            session.add(Reminder(key=f"visit:{visit.id}:visit_hour:{int(visit.scheduled_at.timestamp())}:{user}",
                                 kind="visit_hour", visit_id=visit.id, recipient=user, due_at=due,
                                 payload={"at": visit.scheduled_at.isoformat(), "role": "owner"}))


def _concurrent_ticks(app, count: int) -> list:
    runtime = app.extensions["bot"]
    schedules = load_schedules(app.config["PROGRAMS_FILE"])
    reports, barrier = [], threading.Barrier(2)

    def one(name):
        barrier.wait()
        reports.append(run_tick(database=runtime.database, deliverer=runtime.services.get("reminder_deliverer"),
                                schedules=schedules, now=taipei("2023-05-10T10:00"), batch_size=50, worker=name))

    threads = [threading.Thread(target=one, args=(f"w{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return reports


def test_two_concurrent_ticks_never_send_twice(app, fake_line):
    database = app.extensions["bot"].database
    _many_visit_reminders(database, 120)
    reports = _concurrent_ticks(app, 120)
    assert sum(r.claimed for r in reports) == 120
    received = Counter(person for record in fake_line.records for person in record["to"])
    assert len(received) == 120 and set(received.values()) == {1}
    assert {record["kind"] for record in fake_line.records} == {"multicast"}  # same text: coalesced


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
                    reason="needs TEST_DATABASE_URL pointing at PostgreSQL")
def test_two_concurrent_ticks_on_postgres_skip_locked(app, fake_line):
    database = app.extensions["bot"].database
    assert database.is_postgres
    _many_visit_reminders(database, 300)
    reports = _concurrent_ticks(app, 300)
    assert sum(r.claimed for r in reports) == 300
    assert all(r.claimed > 0 for r in reports) or sum(r.claimed for r in reports) == 300
    received = Counter(person for record in fake_line.records for person in record["to"])
    assert len(received) == 300 and set(received.values()) == {1}


def test_reminders_materialised_by_a_crashed_tick_are_delivered_by_the_next(app, fake_line, booked):
    runtime = app.extensions["bot"]
    schedules = load_schedules(app.config["PROGRAMS_FILE"])
    crashed = run_tick(database=runtime.database, deliverer=None, schedules=schedules,
                       now=taipei("2023-05-09T20:00"))  # claimed and queued, then "died" before sending
    assert crashed.materialised == 2 and not [r for r in fake_line.records if "明天" in json.dumps(r, ensure_ascii=False)]
    report = tick(app, "2023-05-09T20:01:00+08:00")  # (the web process's outbox pump may beat it)
    assert report["claimed"] == 0
    fake_line.wait_for(lambda: len([r for r in fake_line.records if "明天" in json.dumps(r, ensure_ascii=False)]) >= 2)
    evening = [r for r in fake_line.records if "明天" in json.dumps(r, ensure_ascii=False)]
    assert sorted(r["to"][0] for r in evening) == sorted([OWNER_B, ADVISOR])


def test_token_bucket_holds_requests_to_the_rate():
    import time as clock

    from scheduler.delivery import TokenBucket

    bucket = TokenBucket(rate=200, capacity=1)
    started = clock.perf_counter()
    for _ in range(41):
        bucket.take()
    assert clock.perf_counter() - started >= 0.19  # 40 refills at 200/s


def test_dead_letters_are_visible_to_staff(app, live_server, fake_line, booked):
    import requests

    fake_line.faults.append(Fault("push", status=400, times=10))
    tick(app, "2023-05-09T20:00:00+08:00")
    with app.extensions["bot"].database.write_session() as session:
        # (only the reminders: a push the booking queued may meet the same fault under load)
        dead = session.exec(select(OutboundMessage).where(OutboundMessage.status == "dead",
                                                          OutboundMessage.origin.like("reminder%"))).all()
    assert len(dead) == 2
    assert requests.get(f"{live_server.url}/staff/outbox").status_code == 403
    wrong = requests.get(f"{live_server.url}/staff/outbox", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    answer = requests.get(f"{live_server.url}/staff/outbox?status=dead",
                          headers={"Authorization": f"Bearer {STAFF_TOKEN}"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["counts"]["dead"] == 2 and {i["recipient"] for i in body["items"]} == {OWNER_B, ADVISOR}
    assert all(i["origin"] == "reminder" and i["last_error"].startswith("400") for i in body["items"])


def test_server_errors_are_retried_with_backoff_and_sent_once(app, fake_line, booked):
    runtime = app.extensions["bot"]
    # The app's own outbox pump (every second) could take a reminder row before the tick's
    # deliverer and meet the fault itself: pause it, so the report below counts the tick's work.
    runtime.stop_background()
    try:
        fake_line.faults.append(Fault("push", status=500, times=1))
        report = tick(app, "2023-05-09T20:00:00+08:00")
    finally:
        runtime.start_background()
    assert report["retrying"] == 1 and report["messages_sent"] == 1
    runtime.sender.deliver_due(now=datetime.now(timezone.utc) + timedelta(seconds=30))
    evening = [r for r in fake_line.records if "明天" in json.dumps(r, ensure_ascii=False)]
    assert sorted(r["to"][0] for r in evening) == sorted([OWNER_B, ADVISOR])
    with runtime.database.session() as session:
        rows = session.exec(select(OutboundMessage).where(OutboundMessage.origin == "reminder")).all()
    assert sorted(r.attempts for r in rows) == [1, 2] and {r.status for r in rows} == {"sent"}


def test_a_long_outage_does_not_turn_reminders_into_dead_letters(app, fake_line, people):
    """Reminder rows the tick retries follow the outbox's rule: a retryable failure after
    max_attempts still waits while the row is inside the retry window; an old one gives up."""
    runtime = app.extensions["bot"]
    deliverer = runtime.services.get("reminder_deliverer")
    now = datetime.now(timezone.utc)
    later = now + timedelta(hours=1)  # not due for the app's own outbox pump, due for this call
    with runtime.database.write_session() as session:
        rows = [OutboundMessage(idempotency_key=f"rem:outage:{age}", kind="push", recipient=OWNER_A,
                                messages=[{"type": "text", "text": "提醒"}], origin="reminder",
                                attempts=deliverer.max_attempts, next_attempt_at=later,
                                created_at=now - timedelta(hours=age)) for age in (1, 25)]
        session.add_all(rows)
        session.flush()
        recent, old = (row.id for row in rows)
    fake_line.faults.append(Fault("push", status=503, times=2))
    report = deliverer.deliver([recent, old], now=later)
    assert (report.retrying, report.dead) == (1, 1)
    with runtime.database.session() as session:
        assert session.get(OutboundMessage, recent).status == "pending"
        assert session.get(OutboundMessage, old).status == "dead"


def test_personal_reminders_recheck_their_rule_and_coalesce_into_multicast(app, fake_line, people):
    from scheduler.service import schedule_reminder

    schedule = load_schedules(app.config["PROGRAMS_FILE"])["gonghao-2023"]
    others = [f"U{i:032d}" for i in range(3)]
    with people.write_session() as session:
        for user in others:
            add_user(session, user)
            add_company(session, name=f"店{user[-2:]}", owner=user, verdict="eligible", letter_status="none")
        for user in [OWNER_A, OWNER_B, *others]:
            schedule_reminder(session, key="letters-3d", to=user, text="意向書還沒簽喔", schedule=schedule,
                              due_at=taipei("2023-03-15T22:00"), audience=["owners_eligible_no_letter"])
            assert schedule_reminder(session, key="letters-3d", to=user, text="x", schedule=schedule,
                                     due_at=taipei("2023-03-15T22:00")) is None  # same key: no-op
        rows = session.exec(select(Reminder).where(Reminder.kind == "personal")).all()
        assert {r.due_at for r in rows} == {taipei("2023-03-16T08:00")}  # quiet hours moved it
    report = tick(app, "2023-03-16T08:00:00+08:00")
    assert report["skipped"].get("no longer concerned") == 1  # OWNER_B signed already
    multicasts = [r for r in fake_line.records if r["kind"] == "multicast" and "意向書還沒簽" in json.dumps(r, ensure_ascii=False)]
    assert len(multicasts) == 1 and sorted(multicasts[0]["to"]) == sorted([OWNER_A, *others])


# --- processes and listings --------------------------------------------------------------

def test_scheduler_runs_in_process_when_enabled(database_url, fake_line):
    from bot import create_app
    from tests.conftest import base_config

    def scheduler_starters(app):
        return [s for s in app.extensions["bot"].background if s.__name__ == "start_scheduler"]

    disabled = create_app(base_config(database_url, fake_line))
    assert scheduler_starters(disabled) == []
    enabled = create_app(base_config(database_url, fake_line, SCHEDULER_ENABLED=True,
                                     SCHEDULER_INTERVAL_SECONDS=3600))
    starters = scheduler_starters(enabled)
    assert len(starters) == 1
    starters[0]()  # what BotRuntime.start_background() does
    scheduler = enabled.extensions["scheduler"]
    try:
        assert scheduler.running
        job = scheduler.get_job("reminder_tick")
        assert job is not None and job.trigger.interval == timedelta(hours=1)
    finally:
        scheduler.shutdown(wait=True)


def test_upcoming_lists_only_what_concerns_the_person(app, people):
    from scheduler.service import upcoming_for

    schedules = load_schedules(app.config["PROGRAMS_FILE"])
    with people.session() as session:
        owner_a = [what for _, what in upcoming_for(session, user_id=OWNER_A, schedules=schedules,
                                                     now=taipei("2023-03-10T09:00"))]
        owner_b = [what for _, what in upcoming_for(session, user_id=OWNER_B, schedules=schedules,
                                                     now=taipei("2023-03-10T09:00"))]
    assert any("意向書" in what for what in owner_a)
    assert not any("意向書" in what for what in owner_b)
    assert any("雲工具" in what for what in owner_b) and any("輔導期間結束" in what for what in owner_b)


def test_tick_prints_a_human_summary(app, people):
    result = app.test_cli_runner().invoke(args=["tick", "--now", "2023-03-11T09:00"])
    assert result.exit_code == 0 and "tick 2023-03-11T01:00:00+00:00" in result.output and "due" in result.output
    result = app.test_cli_runner().invoke(args=["tick", "--now", "not-a-date"])
    assert result.exit_code != 0
