"""Booking a consultation visit in chat: who may book for which company, parsing the time, and
the records and notices a booking, a confirmation or a reschedule request produce.

Owners book with their company's advisor (Company.advisor_line_user_id); an advisor books for one
of the companies assigned to them. Reminders for the visit are scheduled here too (scheduler.service,
which in turn needs nothing from this module)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlmodel import Session, select

from bot.db import utc_now
from bot.messages import Choice, Text
from bot.outbox import enqueue_push
from bot.services import audit
from bot.texts import t
from bot.timeutil import TAIPEI, format_roc_datetime, to_taipei
from companies.models import Company, CompanyMember
from companies.service import owners_of
from dialogs.parsing import normalize, parse_date, parse_time
from scheduler.service import cancel_visit_reminders, schedule_visit_reminders
from visits.models import Visit
from visits.service import mode_label

MODES = ("onsite", "online")
_MONTH_DAY = re.compile(r"\d{1,2}[/.\-月]\d{1,2}")
_YEAR_MONTH_DAY = re.compile(r"\d{2,4}[/.\-年]\d{1,2}[/.\-月]\d{1,2}")
_PICKER = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$")  # LINE datetimepicker value


def booking_options(session: Session, *, user_id: str, roles: frozenset[str] | set[str]) -> dict:
    """{"role": "advisor"|"owner"|None, "companies": [[id, name], …]} for the booking flow."""
    if "advisor" in roles:
        rows = session.exec(select(Company.id, Company.name).where(
            Company.advisor_line_user_id == user_id, Company.status == "active").order_by(Company.name)).all()
        if rows:
            return {"role": "advisor", "companies": [[cid, name or f"#{cid}"] for cid, name in rows]}
    rows = session.exec(select(Company.id, Company.name).join(CompanyMember, CompanyMember.company_id == Company.id)
                        .where(CompanyMember.line_user_id == user_id, Company.status == "active",
                               Company.advisor_line_user_id.is_not(None)).order_by(Company.name)).all()
    if rows:
        return {"role": "owner", "companies": [[cid, name or f"#{cid}"] for cid, name in rows]}
    return {"role": "advisor" if "advisor" in roles else None, "companies": []}


def parse_when(text: str, *, now: datetime) -> datetime | None:
    """The picker's 'YYYY-MM-DDTHH:mm', or typed '5/10 下午2點' / '112/5/10 14:00' (Taipei)."""
    text = (text or "").strip()
    match = _PICKER.match(text)
    if match:
        year, month, day, hour, minute = map(int, match.groups())
        try:
            return datetime(year, month, day, hour, minute, tzinfo=TAIPEI).astimezone(timezone.utc)
        except ValueError:
            return None
    day = _day_ahead(text, now=now)
    clock = parse_time(text)
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock, tzinfo=TAIPEI).astimezone(timezone.utc)


def _day_ahead(text: str, *, now: datetime):
    """The day a text names; a month/day without a year already past this year is next year's (a
    visit is booked ahead: 「3/2」 typed in December is March 2 to come, not 「已經過了」)."""
    today = to_taipei(now).date()
    day = parse_date(text, today=today)
    flat = normalize(text)
    if day is not None and day < today and _MONTH_DAY.search(flat) and not _YEAR_MONTH_DAY.search(flat):
        try:
            return day.replace(year=day.year + 1)
        except ValueError:  # 2/29
            return day
    return day


def parse_day_only(text: str, *, now: datetime):
    """The day of a text that names a day but no time (「115/3/2」「下週三下午」), else None."""
    text = (text or "").strip()
    if _PICKER.match(text) or parse_time(text) is not None:
        return None
    return _day_ahead(text, now=now)


def time_on(day_iso: str, text: str) -> datetime | None:
    """「下午3點」 on a day given before (Taipei), or None when the text has no time."""
    from datetime import date

    clock = parse_time(text)
    if clock is None:
        return None
    return datetime.combine(date.fromisoformat(day_iso), clock, tzinfo=TAIPEI).astimezone(timezone.utc)


def picker_min(now: datetime) -> str:
    return f"{to_taipei(now + timedelta(hours=1)):%Y-%m-%dT%H:00}"


def book_visit(session: Session, *, company_id: int, booked_by: str, scheduled_at: datetime, mode: str,
               schedule, now: datetime | None = None) -> Visit:
    """Save the visit, replace a visit the owner asked to reschedule, schedule its reminders and
    tell the other side."""
    now = now or utc_now()
    company = session.get(Company, company_id)
    if company is None or not company.advisor_line_user_id:
        raise ValueError("company has no advisor")
    for old in session.exec(select(Visit).where(Visit.company_id == company_id,
                                                Visit.status == "reschedule_requested",
                                                Visit.deleted_at.is_(None))).all():
        old.status, old.updated_at = "cancelled", now
        session.add(old)
        cancel_visit_reminders(session, visit_id=old.id, reason="rebooked")
    visit = Visit(company_id=company_id, advisor_line_user_id=company.advisor_line_user_id,
                  scheduled_at=scheduled_at, mode=mode, status="booked", created_by=booked_by)
    session.add(visit)
    session.flush()
    schedule_visit_reminders(session, visit=visit, schedule=schedule, now=now)
    values = {"company": company.name or f"#{company.id}", "when": format_roc_datetime(scheduled_at),
              "mode": mode_label(mode)}
    if booked_by == company.advisor_line_user_id:
        for owner in owners_of(session, company_id=company_id):
            enqueue_push(session, to=owner, replies=[Text(t("reminders.booking_notify_owner", **values))],
                         idempotency_key=f"visit:{visit.id}:booked:{owner}", origin=f"visit:{visit.id}")
    else:
        enqueue_push(session, to=company.advisor_line_user_id,
                     replies=[Text(t("reminders.booking_notify_advisor", **values))],
                     idempotency_key=f"visit:{visit.id}:booked:{company.advisor_line_user_id}",
                     origin=f"visit:{visit.id}")
    audit(session, actor=booked_by, action="visit_booked", target=f"visit:{visit.id}", mode=mode)
    return visit


def _owned_visit(session: Session, *, visit_id: int, user_id: str) -> tuple[Visit, Company] | None:
    visit = session.get(Visit, visit_id)
    if visit is None or visit.deleted_at is not None or visit.status not in ("booked", "confirmed"):
        return None
    member = session.exec(select(CompanyMember.id).where(CompanyMember.company_id == visit.company_id,
                                                         CompanyMember.line_user_id == user_id)).first()
    if member is None:
        return None
    return visit, session.get(Company, visit.company_id)


def visit_awaiting_answer(session: Session, *, user_id: str, now: datetime) -> Visit | None:
    """The visit whose evening reminder (「確認訪視」/「申請改期」) reached this person in the last day
    and is still unanswered and ahead: what a bare 「好」 typed after that reminder answers."""
    from scheduler.models import Reminder

    return session.exec(select(Visit).join(Reminder, Reminder.visit_id == Visit.id).where(
        Reminder.recipient == user_id, Reminder.kind == "visit_evening", Reminder.status == "sent",
        Reminder.processed_at >= now - timedelta(days=1), Visit.status == "booked", Visit.deleted_at.is_(None),
        Visit.scheduled_at > now).order_by(Visit.scheduled_at)).first()


def next_visit_of(session: Session, *, user_id: str, now: datetime) -> tuple[Visit, Company] | None:
    """The next visit booked for one of this person's companies (as an owner or member), or None."""
    row = session.exec(select(Visit, Company).join(Company, Company.id == Visit.company_id)
                       .join(CompanyMember, CompanyMember.company_id == Visit.company_id)
                       .where(CompanyMember.line_user_id == user_id, Visit.status.in_(("booked", "confirmed")),
                              Visit.deleted_at.is_(None), Visit.scheduled_at > now)
                       .order_by(Visit.scheduled_at)).first()
    return (row[0], row[1]) if row else None


def confirm_visit(session: Session, *, visit_id: int, user_id: str) -> Visit | None:
    found = _owned_visit(session, visit_id=visit_id, user_id=user_id)
    if found is None:
        return None
    visit, company = found
    if visit.status != "confirmed":
        visit.status, visit.updated_at = "confirmed", utc_now()
        session.add(visit)
        if visit.advisor_line_user_id:
            enqueue_push(session, to=visit.advisor_line_user_id, replies=[Text(t(
                "reminders.visit_confirmed_advisor", company=company.name or f"#{company.id}",
                when=format_roc_datetime(visit.scheduled_at)))],
                idempotency_key=f"visit:{visit.id}:confirmed", origin=f"visit:{visit.id}")
        audit(session, actor=user_id, action="visit_confirmed", target=f"visit:{visit.id}")
    return visit


def request_reschedule(session: Session, *, visit_id: int, user_id: str) -> Visit | None:
    """The owner cannot make it: the visit stops being reminded and the advisor is told."""
    found = _owned_visit(session, visit_id=visit_id, user_id=user_id)
    if found is None:
        return None
    visit, company = found
    visit.status, visit.updated_at = "reschedule_requested", utc_now()
    session.add(visit)
    cancel_visit_reminders(session, visit_id=visit.id, reason="reschedule requested")
    if visit.advisor_line_user_id:
        enqueue_push(session, to=visit.advisor_line_user_id, replies=[Text(
            t("reminders.visit_reschedule_advisor", company=company.name or f"#{company.id}",
              when=format_roc_datetime(visit.scheduled_at)), (Choice(t("reminders.booking_button")),))],
            idempotency_key=f"visit:{visit.id}:reschedule", origin=f"visit:{visit.id}")
    audit(session, actor=user_id, action="visit_reschedule_requested", target=f"visit:{visit.id}")
    return visit
