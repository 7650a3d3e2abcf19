"""Activities: creating, inviting a segment, registering, checking in, the sign-in sheet.
Keyword-only functions over a session; the caller owns the transaction.

Nothing is counted twice: one registration row per (activity, person) (a unique constraint), a
check-in is a conditional UPDATE of a row not yet checked in, and seats are counted while the
activity's row is locked (PostgreSQL ``FOR UPDATE``; SQLite's write transaction is one at a time
already), so two taps at once, or two people at once for the last seat, settle in one order.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlparse

import sqlalchemy as sa
from sqlmodel import Session, select

from activities.models import Activity, ActivityRegistration
from activities.settings import ActivitySettings
from bot.db import utc_now
from bot.messages import Card, Choice, encode_postback
from bot.services import audit
from bot.texts import t
from bot.timeutil import TAIPEI, format_roc_date, format_roc_datetime, to_taipei
from companies.models import Company
from companies.service import latest_company_of_user
from scheduler.models import Reminder

CODE_DIGITS = 4
# A code stays reserved this long after its activity started, so a late 「簽到 1234」 is told the
# code has expired instead of checking in to a newer activity that drew the same digits.
CODE_RESERVED_FOR = timedelta(days=14)
TITLE_LIMIT = 60
PLACE_LIMIT = 200


class ActivityError(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# --- what an activity says about itself ---------------------------------------------------

def when_text(activity: Activity) -> str:
    """「112/05/20（六）14:00–16:00」."""
    start, end = to_taipei(activity.starts_at), to_taipei(activity.ends_at)
    weekday = "一二三四五六日"[start.weekday()]
    day = f"{format_roc_date(start.date())}（{weekday}）{start:%H:%M}"
    if end.date() == start.date():
        return f"{day}–{end:%H:%M}"
    return f"{day}–{format_roc_datetime(end)}"


def where_text(activity: Activity) -> str:
    parts = [p for p in (activity.place, activity.online_url) if p]
    return "、".join(parts) or "—"


def seats_text(activity: Activity, registered: int) -> str:
    if activity.capacity is None:
        return t("activities.seats_unlimited", registered=registered)
    return t("activities.seats_of", registered=registered, capacity=activity.capacity)


def invitation_card(activity: Activity, settings: ActivitySettings) -> Card:
    """What an invited person receives: the activity and 「報名」/「不克參加」 bound to it."""
    rows = [(t("activities.label_kind"), settings.kind_label(activity.kind)),
            (t("activities.label_when"), when_text(activity)),
            (t("activities.label_where"), where_text(activity))]
    if activity.capacity is not None:
        rows.append((t("activities.label_capacity"), t("activities.capacity_value", capacity=activity.capacity)))
    return Card(title=activity.title, rows=tuple(rows), note=t("activities.invite_note"),
                buttons=(join_button(activity.id), decline_button(activity.id)),
                alt_text=t("activities.invite_alt", title=activity.title, when=when_text(activity)))


def join_button(activity_id: int) -> Choice:
    return Choice(t("activities.button_join"), data=encode_postback(c="act_join", arg=activity_id),
                  display=t("activities.button_join"))


def decline_button(activity_id: int) -> Choice:
    return Choice(t("activities.button_decline"), data=encode_postback(c="act_decline", arg=activity_id),
                  display=t("activities.button_decline"))


def checkin_link(activity: Activity, basic_id: str | None) -> str | None:
    """The link in the QR code: opens the chat with the bot, 「簽到 1234」 already typed
    (LINE URL scheme ``https://line.me/R/oaMessage/{basic id}/?{text}``). None without the
    account's basic id (LINE_BASIC_ID): people then type the code."""
    if not basic_id:
        return None
    return f"https://line.me/R/oaMessage/{quote(basic_id)}/?{quote(t('activities.checkin_word') + ' ' + activity.checkin_code)}"


# --- creating -------------------------------------------------------------------------------

def validate(*, kind: str, title: str, starts_at: datetime | None, minutes: int | None, place: str | None,
             online_url: str | None, capacity: int | None, settings: ActivitySettings, now: datetime) -> list[str]:
    """zh-TW problems with a new activity (empty: fine)."""
    problems = []
    if kind not in settings.kinds:
        problems.append(t("activities.err_kind"))
    if not (title or "").strip():
        problems.append(t("activities.err_title"))
    elif len(title.strip()) > TITLE_LIMIT:
        problems.append(t("activities.err_title_long", limit=TITLE_LIMIT))
    if starts_at is None:
        problems.append(t("activities.err_when"))
    elif starts_at <= now:
        problems.append(t("activities.err_past"))
    if minutes is not None and not 15 <= minutes <= 12 * 60:
        problems.append(t("activities.err_duration"))
    problems += validate_where(place=place, online_url=online_url)
    if capacity is not None and not 1 <= capacity <= 10_000:
        problems.append(t("activities.err_capacity"))
    return problems


def validate_where(*, place: str | None, online_url: str | None) -> list[str]:
    """A place, an online link, or both."""
    problems = []
    if not (place or "").strip() and not (online_url or "").strip():
        problems.append(t("activities.err_where"))
    if place and len(place) > PLACE_LIMIT:
        problems.append(t("activities.err_place_long", limit=PLACE_LIMIT))
    if online_url:
        parsed = urlparse(online_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc or len(online_url) > 1000:
            problems.append(t("activities.err_link"))
    return problems


def new_checkin_code(session: Session, *, now: datetime) -> str:
    """Four random digits no activity still checking in (or recently over) uses."""
    taken = set(session.exec(select(Activity.checkin_code).where(
        Activity.starts_at >= now - CODE_RESERVED_FOR)).all())
    for _ in range(200):
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        if code not in taken:
            return code
    raise ActivityError("no_code")  # 200 misses: thousands of activities at once


def create_activity(session: Session, *, actor: str, source: str, kind: str, title: str, starts_at: datetime,
                    minutes: int | None, place: str | None, online_url: str | None, capacity: int | None,
                    settings: ActivitySettings, now: datetime | None = None) -> Activity:
    now = now or utc_now()
    place, online_url = (place or "").strip() or None, (online_url or "").strip() or None
    if validate(kind=kind, title=title, starts_at=starts_at, minutes=minutes, place=place, online_url=online_url,
                capacity=capacity, settings=settings, now=now):
        raise ActivityError("invalid")
    duration = timedelta(minutes=minutes) if minutes else settings.default_duration
    activity = Activity(program_id=settings.program_id, kind=kind, title=title.strip(), starts_at=starts_at,
                        ends_at=starts_at + duration, place=place, online_url=online_url, capacity=capacity,
                        checkin_code=new_checkin_code(session, now=now), created_by=actor, source=source,
                        created_at=now, updated_at=now)
    session.add(activity)
    session.flush()
    audit(session, actor=actor, action="activity_created", target=f"activity:{activity.id}", source=source,
          kind=kind, starts_at=starts_at.isoformat(), capacity=capacity)
    return activity


def invite(session: Session, *, activity: Activity, actor: str, source: str, audience_kind: str,
           audience_value: str | None, settings: ActivitySettings, quiet_hours, now: datetime | None = None):
    """Send the invitation card to a segment: a broadcast (broadcasts.service: the same segments,
    multicast chunks, report and audit as any announcement). Returns the Broadcast."""
    from broadcasts.service import create_broadcast

    if activity.status != "open":
        raise ActivityError("cancelled")
    broadcast = create_broadcast(
        session, actor=actor, source=source, text=t("activities.invite_record", title=activity.title),
        image_url=None, link_url=None, audience_kind=audience_kind, audience_value=audience_value,
        quiet_hours=quiet_hours, now=now, replies=[invitation_card(activity, settings)])
    activity.invitations = [*(activity.invitations or []), broadcast.id]
    session.add(activity)
    return broadcast


def cancel_activity(session: Session, *, activity_id: int, actor: str, now: datetime | None = None) -> list[str]:
    """Cancel (registrations kept, reminders dropped). Returns whom to tell: the registered."""
    now = now or utc_now()
    activity = _locked(session, activity_id)
    if activity is None:
        raise ActivityError("not_found")
    if activity.status == "cancelled":
        raise ActivityError("cancelled")
    activity.status, activity.cancelled_at, activity.updated_at = "cancelled", now, now
    session.add(activity)
    cancel_reminders(session, activity_id=activity_id, reason="activity cancelled")
    audit(session, actor=actor, action="activity_cancelled", target=f"activity:{activity_id}")
    return list(session.exec(select(ActivityRegistration.line_user_id).where(
        ActivityRegistration.activity_id == activity_id, ActivityRegistration.status == "registered")).all())


# --- registering ----------------------------------------------------------------------------

@dataclass
class Outcome:
    code: str
    activity: Activity | None = None
    registration: ActivityRegistration | None = None
    registered: int = 0


def _locked(session: Session, activity_id: int) -> Activity | None:
    """The activity, its row locked until the transaction ends (PostgreSQL: concurrent
    registrations for it wait here and then count the seats again)."""
    return session.exec(select(Activity).where(Activity.id == activity_id).with_for_update()
                        .execution_options(populate_existing=True)).first()


def _registration(session: Session, activity_id: int, line_user_id: str) -> ActivityRegistration | None:
    return session.exec(select(ActivityRegistration).where(
        ActivityRegistration.activity_id == activity_id, ActivityRegistration.line_user_id == line_user_id)
        .execution_options(populate_existing=True)).first()


def registered_count(session: Session, *, activity_id: int) -> int:
    return session.exec(select(sa.func.count(ActivityRegistration.id)).where(
        ActivityRegistration.activity_id == activity_id, ActivityRegistration.status == "registered")).one()


def _closed_for_answers(activity: Activity, now: datetime) -> str | None:
    if activity.status == "cancelled":
        return "cancelled"
    if now >= activity.ends_at:
        return "ended"
    return None


def register(session: Session, *, activity_id: int, line_user_id: str, now: datetime | None = None,
             walk_in: bool = False) -> Outcome:
    """「報名」. Codes: registered, already, full, cancelled, ended, not_found."""
    now = now or utc_now()
    activity = _locked(session, activity_id)
    if activity is None:
        return Outcome("not_found")
    closed = _closed_for_answers(activity, now)
    if closed:
        return Outcome(closed, activity)
    row = _registration(session, activity_id, line_user_id)
    count = registered_count(session, activity_id=activity_id)
    if row is not None and row.status == "registered":
        return Outcome("already", activity, row, count)
    if activity.capacity is not None and count >= activity.capacity:
        return Outcome("full", activity, row, count)
    company = latest_company_of_user(session, line_user_id=line_user_id)
    if row is None:
        row = ActivityRegistration(activity_id=activity_id, line_user_id=line_user_id,
                                   attendee_name=known_name(session, line_user_id=line_user_id))
    row.status, row.responded_at, row.walk_in = "registered", now, walk_in
    row.company_id = company.id if company else None
    session.add(row)
    session.flush()
    return Outcome("registered", activity, row, count + 1)


def decline(session: Session, *, activity_id: int, line_user_id: str, now: datetime | None = None) -> Outcome:
    """「不克參加」: before registering, or to give the seat back. Codes: declined, already,
    checked_in, cancelled, ended, not_found."""
    now = now or utc_now()
    activity = _locked(session, activity_id)
    if activity is None:
        return Outcome("not_found")
    closed = _closed_for_answers(activity, now)
    if closed:
        return Outcome(closed, activity)
    row = _registration(session, activity_id, line_user_id)
    if row is not None and row.checked_in_at is not None:
        return Outcome("checked_in", activity, row)
    if row is not None and row.status == "declined":
        return Outcome("already", activity, row)
    was_registered = row is not None
    if row is None:
        company = latest_company_of_user(session, line_user_id=line_user_id)
        row = ActivityRegistration(activity_id=activity_id, line_user_id=line_user_id,
                                   company_id=company.id if company else None)
    row.status, row.responded_at = "declined", now
    session.add(row)
    session.flush()
    if was_registered:
        cancel_reminders(session, activity_id=activity_id, line_user_id=line_user_id, reason="declined")
    return Outcome("declined", activity, row)


def known_name(session: Session, *, line_user_id: str) -> str | None:
    """The name this person gave for an earlier sign-in sheet, if any."""
    return session.exec(select(ActivityRegistration.attendee_name).where(
        ActivityRegistration.line_user_id == line_user_id, ActivityRegistration.attendee_name.is_not(None))
        .order_by(ActivityRegistration.responded_at.desc()).limit(1)).first()


def set_attendee_name(session: Session, *, activity_id: int, line_user_id: str, name: str) -> bool:
    row = _registration(session, activity_id, line_user_id)
    if row is None:
        return False
    row.attendee_name = name[:60]
    session.add(row)
    return True


# --- checking in ----------------------------------------------------------------------------

def find_by_code(session: Session, *, code: str, now: datetime, settings_of) -> Activity | None:
    """The activity a typed code means: the one whose check-in window is open now, else the
    latest with that code (so the answer can say 「還沒開放」 or 「已過期」)."""
    candidates = list(session.exec(select(Activity).where(Activity.checkin_code == code)
                                   .order_by(Activity.starts_at.desc()).limit(10)).all())
    for activity in candidates:
        opens, closes = settings_of(activity.program_id).checkin_window(activity.starts_at)
        if activity.status == "open" and opens <= now <= closes:
            return activity
    return candidates[0] if candidates else None


def checkin_open_now(session: Session, *, now: datetime, settings_of) -> bool:
    """Whether any activity's LINE check-in window is open now (windows are hours around the
    start, so a day either side is enough to look at)."""
    near = session.exec(select(Activity).where(Activity.status == "open",
                                               Activity.starts_at >= now - timedelta(days=1),
                                               Activity.starts_at <= now + timedelta(days=1))).all()
    for activity in near:
        opens, closes = settings_of(activity.program_id).checkin_window(activity.starts_at)
        if opens <= now <= closes:
            return True
    return False


def check_in(session: Session, *, code: str, line_user_id: str, settings_of, now: datetime | None = None) -> Outcome:
    """「簽到 1234」. Codes: checked_in, walk_in, already, wrong_code, expired, not_open_yet, late,
    cancelled, not_registered, full. ``settings_of(program_id)`` gives an ActivitySettings."""
    now = now or utc_now()
    found = find_by_code(session, code=code, now=now, settings_of=settings_of)
    if found is None:
        return Outcome("wrong_code")
    settings = settings_of(found.program_id)
    activity = _locked(session, found.id)
    if activity.status == "cancelled":
        return Outcome("cancelled", activity)
    opens, closes = settings.checkin_window(activity.starts_at)
    row = _registration(session, activity.id, line_user_id)
    if row is not None and row.checked_in_at is not None:
        return Outcome("already", activity, row)  # before the window checks: it is done, whenever
    if now < opens:
        return Outcome("not_open_yet", activity, row)
    if now > closes:
        # Past the window: a code from a past activity has expired; on the day, the person is late.
        return Outcome("late" if now < activity.ends_at else "expired", activity, row)
    walk_in = row is None or row.status != "registered"
    if walk_in:
        if not settings.walk_in:
            return Outcome("not_registered", activity, row)
        joined = register(session, activity_id=activity.id, line_user_id=line_user_id, now=now, walk_in=True)
        if joined.code == "full":
            return Outcome("full", activity, row, joined.registered)
        row = joined.registration
    marked = session.execute(sa.update(ActivityRegistration).where(
        ActivityRegistration.id == row.id, ActivityRegistration.checked_in_at.is_(None))
        .values(checked_in_at=now, checkin_source="line"))
    if marked.rowcount != 1:
        return Outcome("already", activity, row)
    session.refresh(row)
    cancel_reminders(session, activity_id=activity.id, line_user_id=line_user_id, reason="checked in")
    return Outcome("walk_in" if walk_in else "checked_in", activity, row)


def staff_check_in(session: Session, *, registration_id: int, actor: str, now: datetime | None = None) -> bool:
    """A staff member signs someone in (late, or without a phone): once, like any check-in."""
    now = now or utc_now()
    marked = session.execute(sa.update(ActivityRegistration).where(
        ActivityRegistration.id == registration_id, ActivityRegistration.checked_in_at.is_(None))
        .values(checked_in_at=now, checkin_source="staff", status="registered"))
    if marked.rowcount:
        audit(session, actor=actor, action="activity_staff_checkin", target=f"registration:{registration_id}")
    return bool(marked.rowcount)


# --- reminders (scheduler personal reminders: exactly once, quiet hours respected) -------------

def _reminder_prefix(activity_id: int) -> str:
    return f"activity:{activity_id}:"


def plan_reminders(session: Session, *, activity: Activity, registration: ActivityRegistration,
                   settings: ActivitySettings, schedule, now: datetime | None = None) -> int:
    """The day before and an hour before, to one registered person. Keyed by the activity's
    version and the registration's time: a moved activity or a new registration plans afresh."""
    from scheduler.service import schedule_reminder

    now = now or utc_now()
    start = to_taipei(activity.starts_at)
    day_before = datetime.combine(start.date() - timedelta(days=1), settings.day_before_at, tzinfo=TAIPEI)
    hour_before = activity.starts_at - timedelta(hours=settings.hours_before)
    stamp = int(registration.responded_at.timestamp())
    values = {"title": activity.title, "time": f"{start:%H:%M}", "when": when_text(activity),
              "where": where_text(activity), "hours": f"{settings.hours_before:g}",
              "kind": settings.kind_label(activity.kind)}
    planned = 0
    for phase, due in (("day", day_before), ("hour", hour_before)):
        if due <= now or schedule.quiet.next_allowed(due) >= activity.starts_at:
            continue  # already past, or quiet hours would push it past the start
        text = t(f"activities.reminder_{phase}", **values)
        buttons = [{"label": t("activities.button_decline"),
                    "data": encode_postback(c="act_decline", arg=activity.id)}]
        if schedule_reminder(session, key=f"{_reminder_prefix(activity.id)}v{activity.version}:{phase}:{stamp}",
                             to=registration.line_user_id, due_at=due, text=text, schedule=schedule,
                             expires_at=activity.starts_at, quick_replies=buttons):
            planned += 1
    return planned


def cancel_reminders(session: Session, *, activity_id: int, line_user_id: str | None = None,
                     reason: str = "activity changed") -> int:
    statement = sa.update(Reminder).where(Reminder.key.like(f"personal:{_reminder_prefix(activity_id)}%"),
                                          Reminder.status == "pending")
    if line_user_id is not None:
        statement = statement.where(Reminder.recipient == line_user_id)
    return session.execute(statement.values(status="cancelled", outcome=reason, processed_at=utc_now())).rowcount or 0


# --- reading --------------------------------------------------------------------------------

@dataclass
class Counts:
    registered: int = 0
    declined: int = 0
    checked_in: int = 0
    walk_in: int = 0


def counts(session: Session, *, activity_ids: list[int]) -> dict[int, Counts]:
    found = {activity_id: Counts() for activity_id in activity_ids}
    if not activity_ids:
        return found
    for activity_id, status, walk_in, checked, number in session.exec(
            select(ActivityRegistration.activity_id, ActivityRegistration.status, ActivityRegistration.walk_in,
                   ActivityRegistration.checked_in_at.is_not(None), sa.func.count(ActivityRegistration.id))
            .where(ActivityRegistration.activity_id.in_(activity_ids))
            .group_by(ActivityRegistration.activity_id, ActivityRegistration.status, ActivityRegistration.walk_in,
                      ActivityRegistration.checked_in_at.is_not(None))).all():
        entry = found[activity_id]
        if status == "registered":
            entry.registered += number
        else:
            entry.declined += number
        if checked:
            entry.checked_in += number
            entry.walk_in += number if walk_in else 0
    return found


def recent_activities(session: Session, *, program_id: str | None = None, limit: int = 50,
                      upcoming_from: datetime | None = None) -> list[Activity]:
    statement = select(Activity)
    if program_id:
        statement = statement.where(Activity.program_id == program_id)
    if upcoming_from is not None:
        statement = statement.where(Activity.ends_at >= upcoming_from).order_by(Activity.starts_at)
    else:
        statement = statement.order_by(Activity.starts_at.desc())
    return list(session.exec(statement.limit(limit)).all())


def registrations_of(session: Session, *, line_user_id: str, now: datetime) -> list[tuple[Activity, ActivityRegistration]]:
    """This person's registrations for activities not over yet (「我的活動」)."""
    return list(session.exec(select(Activity, ActivityRegistration)
                             .join(ActivityRegistration, ActivityRegistration.activity_id == Activity.id)
                             .where(ActivityRegistration.line_user_id == line_user_id,
                                    ActivityRegistration.status == "registered", Activity.status == "open",
                                    Activity.ends_at > now).order_by(Activity.starts_at)).all())


def upcoming_for(session: Session, *, user_id: str, now: datetime, config=None) -> list[tuple[datetime, str]]:
    """The activities this person registered for, for 「我的提醒」 (scheduler.service)."""
    from bot.texts import t

    return [(activity.starts_at, t("activities.upcoming_line", title=activity.title, where=where_text(activity)))
            for activity, _ in registrations_of(session, line_user_id=user_id, now=now) if activity.starts_at > now]


SHEET_HEADER = ["活動編號", "類型", "活動名稱", "日期時間", "地點", "序號", "公司名稱", "統一編號", "姓名",
                "簽到時間", "報名方式", "簽到方式"]


def sign_in_rows(session: Session, *, settings_of, activity_ids: list[int] | None = None,
                 as_of: datetime | None = None, program_id: str | None = None) -> list[list]:
    """The sign-in sheets (簽到表): one row per check-in, activity by activity, in time order."""
    statement = (select(Activity, ActivityRegistration, Company.name, Company.tax_id)
                 .join(ActivityRegistration, ActivityRegistration.activity_id == Activity.id)
                 .join(Company, Company.id == ActivityRegistration.company_id, isouter=True)
                 .where(ActivityRegistration.checked_in_at.is_not(None)))
    if activity_ids is not None:
        statement = statement.where(Activity.id.in_(activity_ids or [-1]))
    if as_of is not None:
        statement = statement.where(ActivityRegistration.checked_in_at <= as_of)
    if program_id:
        statement = statement.where(Activity.program_id == program_id)
    rows, numbers = [], {}
    for activity, registration, company_name, tax_id in session.exec(
            statement.order_by(Activity.starts_at, Activity.id, ActivityRegistration.checked_in_at,
                               ActivityRegistration.id)).all():
        numbers[activity.id] = numbers.get(activity.id, 0) + 1
        rows.append([activity.id, settings_of(activity.program_id).kind_label(activity.kind), activity.title,
                     when_text(activity), where_text(activity), numbers[activity.id], company_name or "",
                     tax_id or "", registration.attendee_name or "",
                     format_roc_datetime(registration.checked_in_at),
                     t("activities.sheet_walk_in") if registration.walk_in else t("activities.sheet_registered"),
                     t(f"activities.sheet_by_{registration.checkin_source or 'line'}")])
    return rows
