"""Reminder planning and the tick: claim what is due, materialise it into the outbox, deliver.

Exactly once: a due row is claimed and turned into outbox rows (idempotency key per reminder,
recipient and occurrence) in ONE transaction, so a crash rolls both back and a second tick (or a
second scheduler process) finds nothing left to claim. PostgreSQL claims with
``SELECT … FOR UPDATE SKIP LOCKED``; SQLite with a conditional ``UPDATE … WHERE status='pending'``
inside ``BEGIN IMMEDIATE`` (one writer at a time).
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import socket
import time as clock
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.db import insert_ignoring_duplicates, utc_now
from bot.messages import Choice, Text, encode_postback, to_line_messages
from bot.models import OutboundMessage
from bot.outbox import enqueue_multicast
from bot.texts import t
from bot.timeutil import TAIPEI, format_roc_datetime, to_taipei
from companies.models import Company, CompanyMember
from companies.service import owners_of
from scheduler import audiences
from scheduler.delivery import BatchDeliverer, DeliveryReport, push_rows
from scheduler.models import Reminder
from scheduler.settings import Milestone, ProgramSchedule
from visits.models import Visit
from visits.service import mode_label

log = logging.getLogger(__name__)

# Milestone kinds beyond plain notices, each handled in its own room ("module:function", imported
# when first due, so the scheduler imports none of them): the handler gets (materialiser, claimed
# row, schedule, milestone) and queues what to send through the materialiser (``pushes``,
# ``outbox_ids``) inside the claiming transaction, then calls ``done`` or ``skip``.
DIGEST_HANDLERS = {
    "checkpoint_digest": "checkpoints.scheduled:checkpoint_digest",
    "adoption_digest": "adoption.scheduled:adoption_digest",
    "usage_ask": "adoption.scheduled:usage_ask",
    "kpi_ask": "kpis.scheduled:kpi_ask",
    "checkup_ask": "checkup.scheduled:checkup_ask",
}
MILESTONE_KINDS = ("milestone", *DIGEST_HANDLERS)


def digest_handler(kind: str):
    module, _, name = DIGEST_HANDLERS[kind].partition(":")
    return getattr(importlib.import_module(module), name)
VISIT_KINDS = ("visit_evening", "visit_hour", "visit_log")
# Visit states in which a visit reminder still makes sense (re-checked at send time).
VISIT_STATES = ("booked", "confirmed")
DIGEST_MAX_LINES = 30  # keep a digest readable on a phone (and far under 5,000 characters)
LEFTOVER_LIMIT = 5000  # per tick; the rest go next tick (or via the web process's outbox pump)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


# --- planning --------------------------------------------------------------------------------

def milestone_key(schedule: ProgramSchedule, milestone: Milestone, offset: str) -> str:
    return f"ms:{schedule.program_id}:{milestone.code}:{offset}:{_epoch(milestone.at)}"


def plan_milestones(session: Session, *, schedules: dict[str, ProgramSchedule], now: datetime) -> int:
    """Make sure every upcoming (milestone, offset) has its row; cancel rows whose milestone moved
    or was removed from the data. Cost: the number of milestones, not of reminders."""
    created = 0
    for schedule in schedules.values():
        wanted: dict[str, dict] = {}
        for milestone in schedule.milestones:
            if milestone.at is None or milestone.at <= now:
                continue
            for offset in milestone.offsets:
                due = schedule.quiet.next_allowed(schedule.offset_moment(milestone, offset))
                if due >= milestone.at:
                    continue  # quiet hours pushed it past the moment itself
                key = milestone_key(schedule, milestone, offset)
                wanted[key] = dict(
                    key=key, kind="milestone" if milestone.kind == "notice" else milestone.kind,
                    program_id=schedule.program_id, milestone=milestone.code, offset_label=offset,
                    due_at=due, expires_at=milestone.at, status="pending", created_at=now,
                    payload={"audience": list(milestone.audience), "title": milestone.title})
        existing = session.exec(select(Reminder.key, Reminder.status).where(
            Reminder.program_id == schedule.program_id, Reminder.kind.in_(MILESTONE_KINDS))).all()
        known = {key for key, _ in existing}
        stale = [key for key, status in existing if status == "pending" and key not in wanted]
        if stale:
            session.execute(sa.update(Reminder).where(Reminder.key.in_(stale))
                            .values(status="cancelled", outcome="milestone changed", processed_at=now))
        missing = [row for key, row in wanted.items() if key not in known]
        if missing:
            # Two schedulers may plan at once: a key the other one inserted first is left alone.
            statement = insert_ignoring_duplicates(Reminder.__table__, session.get_bind().dialect.name, ("key",),
                                                   returning=("id",))
            created += len(session.execute(statement, missing).all())
    return created


def schedule_visit_reminders(session: Session, *, visit: Visit, schedule: ProgramSchedule,
                             now: datetime | None = None) -> list[Reminder]:
    """Reminders for a booked visit: the evening before and an hour before (owner(s) and advisor),
    then a prompt to the advisor to log it. Keys carry the visit time: a rebooked visit gets fresh
    rows and the old ones are skipped at send time."""
    now = now or utc_now()
    at = visit.scheduled_at
    if at is None:
        return []
    settings = schedule.visits
    local = to_taipei(at)
    evening = datetime.combine(local.date() - timedelta(days=1), settings.evening_before, tzinfo=TAIPEI)
    phases = {
        # the evening before — only if that is not itself quiet (the text says 「明天」)
        "visit_evening": evening.astimezone(timezone.utc) if not schedule.quiet.contains(evening) else None,
        "visit_hour": schedule.quiet.next_allowed(at - timedelta(hours=settings.hours_before)),
        "visit_log": schedule.quiet.next_allowed(at + timedelta(minutes=settings.log_prompt_after_minutes)),
    }
    owners, advisor = owners_of(session, company_id=visit.company_id), visit.advisor_line_user_id
    company = session.get(Company, visit.company_id)
    planned = set(session.exec(select(Reminder.key).where(Reminder.visit_id == visit.id)).all())
    rows = []
    for kind, due in phases.items():
        if due is None or due <= now:
            continue
        if kind != "visit_log" and due >= at:
            continue  # would arrive after the visit started
        people = [advisor] if kind == "visit_log" else [*owners, advisor]
        for person in dict.fromkeys(p for p in people if p):
            role = "advisor" if person == advisor else "owner"
            key = f"visit:{visit.id}:{kind}:{_epoch(at)}:{person}"
            if key in planned:
                continue
            row = Reminder(key=key, kind=kind, program_id=company.program_id if company else None,
                           visit_id=visit.id, recipient=person, due_at=due, expires_at=None if kind == "visit_log" else at,
                           payload={"at": at.astimezone(timezone.utc).isoformat(), "role": role})
            session.add(row)
            rows.append(row)
    session.flush()
    return rows


def schedule_reminder(session: Session, *, key: str, to: str, due_at: datetime, text: str,
                      schedule: ProgramSchedule, expires_at: datetime | None = None,
                      audience: list[str] | None = None,
                      quick_replies: list[str | dict] | None = None) -> Reminder | None:
    """A one-off personal reminder any domain may schedule (e.g. "your letter is due").

    ``key`` names the reason and occurrence (a repeated key is a no-op). ``audience`` (rule
    names from scheduler.audiences) is re-checked when it is due: if the person no longer
    matches, nothing is sent. Quiet hours move ``due_at`` to the morning. Identical texts due in
    the same tick go out as one multicast. A quick reply is a label the person then "says", or
    ``{"label", "data"}``: a postback (a command button bound to what it is about)."""
    key = f"personal:{key}:{to}"
    if session.exec(select(Reminder.id).where(Reminder.key == key)).first() is not None:
        return None
    row = Reminder(key=key, kind="personal", program_id=schedule.program_id, recipient=to,
                   due_at=schedule.quiet.next_allowed(due_at), expires_at=expires_at,
                   payload={"text": text, "audience": list(audience or ()), "quick_replies": list(quick_replies or ())})
    session.add(row)
    session.flush()
    return row


def cancel_visit_reminders(session: Session, *, visit_id: int, reason: str = "visit changed") -> int:
    result = session.execute(sa.update(Reminder).where(Reminder.visit_id == visit_id, Reminder.status == "pending")
                             .values(status="cancelled", outcome=reason, processed_at=utc_now()))
    return result.rowcount or 0


# Other domains plan their own rows each tick, from data that changes over time (e.g. a test
# link for each company that signed since): ``planner(session, *, schedules, now) -> rows planned``,
# run in the tick's planning transaction. Registered by the domain (``register_planner``).
PLANNERS: list = []


def register_planner(planner):
    if planner not in PLANNERS:
        PLANNERS.append(planner)
    return planner


# --- the tick --------------------------------------------------------------------------------

@dataclass
class TickReport:
    now: str
    planned: int = 0
    claimed: int = 0
    materialised: int = 0
    skipped: dict = field(default_factory=dict)
    held_quiet_hours: int = 0
    outbox_rows: int = 0
    requests: int = 0
    messages_sent: int = 0  # recipients reached
    retrying: int = 0
    dead: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


class Materialiser:
    """Turns one claimed batch into outbox rows inside the claiming transaction."""

    def __init__(self, session: Session, *, schedules: dict[str, ProgramSchedule], default: ProgramSchedule,
                 now: datetime, report: TickReport):
        self.session = session
        self.schedules = schedules
        self.default = default
        self.now = now
        self.report = report
        self.pushes: list[tuple[str, list, str]] = []
        self.outbox_ids: list[int] = []

    def skip(self, row: "Claimed", reason: str) -> None:
        row.status, row.outcome, row.processed_at = "skipped", reason, self.now
        self.report.skipped[reason] = self.report.skipped.get(reason, 0) + 1

    def done(self, row: "Claimed", outcome: str) -> None:
        row.status, row.outcome, row.processed_at = "sent", outcome[:120], self.now
        self.report.materialised += 1

    def run(self, rows: list[Reminder]) -> list[int]:
        latest: dict[tuple, Reminder] = {}
        for row in rows:
            if row.kind in MILESTONE_KINDS:
                group = (row.program_id, row.milestone)
                if group not in latest or row.due_at > latest[group].due_at:
                    latest[group] = row
        visit_rows = [r for r in rows if r.kind in VISIT_KINDS]
        personal_rows = [r for r in rows if r.kind == "personal"]
        for row in rows:
            if row.expires_at is not None and self.now >= row.expires_at:
                self.skip(row, "expired")
            elif row.kind in MILESTONE_KINDS and latest[(row.program_id, row.milestone)] is not row:
                self.skip(row, "superseded")  # a later reminder for the same milestone is due too
            elif row.kind == "milestone":
                self.milestone(row)
            elif row.kind in DIGEST_HANDLERS:
                self.digest(row)
            elif row.kind not in VISIT_KINDS and row.kind != "personal":
                self.skip(row, "unknown kind")
        self.visits([r for r in visit_rows if r.status == "claimed"])
        self.personal([r for r in personal_rows if r.status == "claimed"])
        self.flush_pushes()
        return self.outbox_ids

    def flush_pushes(self) -> None:
        """Pushes with identical messages become multicasts (<= 500 people per request, LINE's
        limit); the rest stay pushes. Either way the outbox key derives from the claimed rows."""
        groups: dict[str, list[tuple[str, list, str]]] = defaultdict(list)
        for to, replies, key in self.pushes:
            groups[json.dumps(to_line_messages(replies), sort_keys=True, ensure_ascii=False)].append((to, replies, key))
        singles = []
        for items in groups.values():
            people = list(dict.fromkeys(to for to, _, _ in items))
            if len(people) < 2:
                singles += items
                continue
            digest = hashlib.sha1("|".join(sorted(key for _, _, key in items)).encode()).hexdigest()[:20]
            rows = enqueue_multicast(self.session, to=people, replies=items[0][1], idempotency_key=f"rem:mc:{digest}",
                                     origin="reminder", not_before=self.now)
            self.outbox_ids += [r.id for r in rows]
        if singles:
            self.outbox_ids += [r.id for r in push_rows(self.session, singles, origin="reminder", not_before=self.now)]
        self.pushes = []

    # personal reminders (scheduled by any domain): the audience rule, if any, is re-checked now
    def personal(self, rows: list[Reminder]) -> None:
        if not rows:
            return
        reachable = audiences.reachable(self.session, [r.recipient for r in rows if r.recipient])
        by_rule: dict[tuple, list[Reminder]] = defaultdict(list)
        for row in rows:
            if row.recipient not in reachable:
                self.skip(row, "recipient not reachable")
            else:
                by_rule[(row.program_id or self.default.program_id, tuple(row.payload.get("audience") or ()))].append(row)
        for (program_id, names), members in by_rule.items():
            concerned = set(audiences.resolve(self.session, names=names, program_id=program_id,
                                              among=[r.recipient for r in members])) if names else None
            for row in members:
                if concerned is not None and row.recipient not in concerned:
                    self.skip(row, "no longer concerned")
                    continue
                buttons = tuple(Choice(item) if isinstance(item, str) else
                                Choice(item["label"], data=item["data"], display=item["label"])
                                for item in row.payload.get("quick_replies") or ())
                self.pushes.append((row.recipient, [Text(row.payload.get("text", ""), buttons)], f"rem:{row.key}"))
                self.done(row, "push")

    def schedule_of(self, row: Reminder) -> ProgramSchedule:
        return self.schedules.get(row.program_id or "", self.default)

    # milestones: same text for the whole audience -> multicast (<= 500 per request)
    def milestone(self, row: Reminder) -> None:
        schedule = self.schedule_of(row)
        milestone = schedule.milestone(row.milestone or "")
        if milestone is None or milestone.at is None:
            return self.skip(row, "milestone removed")
        recipients = audiences.resolve(self.session, names=milestone.audience, program_id=schedule.program_id)
        if not recipients:
            return self.skip(row, "no audience")
        text = milestone_text(milestone, offset=row.offset_label or "", now=self.now)
        replies = [Text(text, (Choice(t("core.menu_reminders")), Choice(t("reminders.stop_button"))))]
        if len(recipients) == 1:
            self.pushes.append((recipients[0], replies, f"rem:{row.key}:{recipients[0]}"))
        else:
            rows = enqueue_multicast(self.session, to=recipients, replies=replies, idempotency_key=f"rem:{row.key}",
                                     origin=f"reminder:{row.id}", not_before=self.now)
            self.outbox_ids += [r.id for r in rows]
        self.done(row, f"{len(recipients)} recipients")

    # digests and asks handled by other rooms (DIGEST_HANDLERS)
    def digest(self, row: "Claimed") -> None:
        schedule = self.schedule_of(row)
        milestone = schedule.milestone(row.milestone or "")
        if milestone is None or milestone.at is None:
            return self.skip(row, "milestone removed")
        digest_handler(row.kind)(self, row, schedule, milestone)

    def logged_companies(self, visits: dict[int, Visit], rows: list) -> dict:
        """{Taipei date: company ids} with a visit already logged (status done) that day: the
        visit-log flow records a new row rather than completing the booking, so match by day."""
        booked = [visits[r.visit_id] for r in rows if r.visit_id in visits and visits[r.visit_id].scheduled_at]
        if not booked:
            return {}
        earliest = min(v.scheduled_at for v in booked) - timedelta(days=1)
        found: dict = defaultdict(set)
        company_ids = list({v.company_id for v in booked})
        for start in range(0, len(company_ids), 900):
            for company_id, visited_at in self.session.exec(select(Visit.company_id, Visit.visited_at).where(
                    Visit.company_id.in_(company_ids[start:start + 900]), Visit.status == "done",
                    Visit.deleted_at.is_(None), Visit.visited_at >= earliest)).all():
                found[to_taipei(visited_at).date()].add(company_id)
        return found

    # visits: personal pushes; the reason is re-checked in bulk (cancelled, moved, logged)
    def visits(self, rows: list[Reminder]) -> None:
        if not rows:
            return
        visit_ids = list({r.visit_id for r in rows if r.visit_id is not None})
        visits: dict[int, Visit] = {}
        for start in range(0, len(visit_ids), 900):
            for visit in self.session.exec(select(Visit).where(Visit.id.in_(visit_ids[start:start + 900]))).all():
                visits[visit.id] = visit
        company_ids = list({v.company_id for v in visits.values()})
        names: dict[int, str] = {}
        for start in range(0, len(company_ids), 900):
            names.update({cid: name for cid, name in self.session.exec(select(Company.id, Company.name).where(
                Company.id.in_(company_ids[start:start + 900]))).all()})
        reachable = audiences.reachable(self.session, [r.recipient for r in rows if r.recipient])
        logged = self.logged_companies(visits, [r for r in rows if r.kind == "visit_log"])
        for row in rows:
            visit = visits.get(row.visit_id or -1)
            if row.kind == "visit_log" and visit is not None and visit.company_id in logged.get(
                    to_taipei(visit.scheduled_at).date() if visit.scheduled_at else None, set()):
                self.skip(row, "already logged")
                continue
            if visit is None or visit.deleted_at is not None or visit.status not in VISIT_STATES:
                self.skip(row, "visit cancelled or done")
                continue
            if visit.scheduled_at is None or not row.payload.get("at") \
                    or datetime.fromisoformat(row.payload["at"]) != visit.scheduled_at:
                self.skip(row, "visit moved")
                continue
            if row.recipient not in reachable:
                self.skip(row, "recipient not reachable")
                continue
            company = names.get(visit.company_id) or f"#{visit.company_id}"
            self.pushes.append((row.recipient, visit_replies(row, visit, company), f"rem:{row.key}"))
            self.done(row, "push")


def milestone_text(milestone: Milestone, *, offset: str, now: datetime) -> str:
    when = format_roc_datetime(milestone.at)
    if offset == "morning" or to_taipei(now).date() == to_taipei(milestone.at).date():
        body = t("reminders.milestone_today", title=milestone.title, when=when)
    elif offset.endswith("h"):
        hours = max(1, round((milestone.at - now).total_seconds() / 3600))
        body = t("reminders.milestone_hours", title=milestone.title, when=when, hours=hours)
    else:
        days = (to_taipei(milestone.at).date() - to_taipei(now).date()).days
        body = t("reminders.milestone_days", title=milestone.title, when=when, days=days)
    return f"{body}\n{t('reminders.milestone_footer')}"


def visit_replies(row: Reminder, visit: Visit, company: str) -> list:
    at = visit.scheduled_at
    values = {"time": f"{to_taipei(at):%H:%M}", "mode": mode_label(visit.mode), "company": company,
              "when": format_roc_datetime(at)}
    role = row.payload.get("role", "owner")
    if row.kind == "visit_log":
        return [Text(t("reminders.visit_log_prompt", **values), (Choice(t("reminders.visit_log_button")),))]
    phase = "evening" if row.kind == "visit_evening" else "hour"
    text = t(f"reminders.visit_{phase}_{role}", **values)
    if role == "owner" and row.kind == "visit_evening":
        return [Text(text, (
            Choice(t("reminders.visit_confirm_button"), data=encode_postback(c="visit_confirm", arg=visit.id),
                   display=t("reminders.visit_confirm_button")),
            Choice(t("reminders.visit_reschedule_button"), data=encode_postback(c="visit_reschedule", arg=visit.id),
                   display=t("reminders.visit_reschedule_button"))))]
    return [Text(text)]


@dataclass
class Claimed:
    """A claimed reminder as plain data (loading ORM objects for 10,000 rows costs seconds)."""

    id: int
    key: str
    kind: str
    program_id: str | None
    milestone: str | None
    offset_label: str | None
    visit_id: int | None
    recipient: str | None
    payload: dict
    due_at: datetime
    expires_at: datetime | None
    status: str = "claimed"
    outcome: str | None = None
    processed_at: datetime | None = None


_CLAIM_COLUMNS = (Reminder.id, Reminder.key, Reminder.kind, Reminder.program_id, Reminder.milestone,
                  Reminder.offset_label, Reminder.visit_id, Reminder.recipient, Reminder.payload,
                  Reminder.due_at, Reminder.expires_at)


def _claim_batch(session: Session, *, database, now: datetime, limit: int, worker: str) -> list[Claimed]:
    due = (select(Reminder.id).where(Reminder.status == "pending", Reminder.due_at <= now)
           .order_by(Reminder.due_at, Reminder.id).limit(limit))
    if database.is_postgres:
        # Rows another tick holds are skipped, not waited for: two schedulers split the work.
        ids = session.execute(due.with_for_update(skip_locked=True)).scalars().all()
        if not ids:
            return []
        claimed = session.execute(sa.update(Reminder).where(Reminder.id.in_(ids))
                                  .values(status="claimed", claimed_by=worker).returning(*_CLAIM_COLUMNS)).all()
    else:
        # SQLite: BEGIN IMMEDIATE holds the write lock; the conditional UPDATE is the claim.
        claimed = session.execute(sa.update(Reminder)
                                  .where(Reminder.id.in_(due.scalar_subquery()), Reminder.status == "pending")
                                  .values(status="claimed", claimed_by=worker).returning(*_CLAIM_COLUMNS)).all()
    rows = [Claimed(*row) for row in claimed]
    rows.sort(key=lambda r: (r.due_at, r.id))
    return rows


def _record_outcomes(session: Session, rows: list[Claimed], now: datetime) -> None:
    """One UPDATE per (status, outcome) instead of one per row."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for row in rows:
        if row.status == "claimed":
            row.status, row.outcome = "skipped", "not handled"
        groups[(row.status, row.outcome)].append(row.id)
    for (status, outcome), ids in groups.items():
        for start in range(0, len(ids), 900):
            session.execute(sa.update(Reminder).where(Reminder.id.in_(ids[start:start + 900]))
                            .values(status=status, outcome=outcome, processed_at=now))


def run_tick(*, database, deliverer: BatchDeliverer | None, schedules: dict[str, ProgramSchedule],
             now: datetime | None = None, batch_size: int = 1000, worker: str | None = None) -> TickReport:
    """One scheduler pass as if the clock read ``now``."""
    started = clock.perf_counter()
    now = (now or utc_now()).astimezone(timezone.utc)
    worker = worker or worker_name()
    default = schedules.get("gonghao-2023") or next(iter(schedules.values()))
    report = TickReport(now=now.isoformat())
    with database.write_session() as session:
        report.planned = plan_milestones(session, schedules=schedules, now=now)
        report.planned += sum(planner(session, schedules=schedules, now=now) for planner in PLANNERS)
    if default.quiet.contains(now):
        # Quiet hours (21:00–08:00 Taipei by default): nothing is materialised; due rows wait
        # and are re-checked in the morning.
        with database.session() as session:
            report.held_quiet_hours = session.exec(select(sa.func.count(Reminder.id)).where(
                Reminder.status == "pending", Reminder.due_at <= now)).one()
        report.seconds = round(clock.perf_counter() - started, 3)
        return report
    delivery = DeliveryReport()
    pending = []
    while True:
        with database.write_session() as session:
            rows = _claim_batch(session, database=database, now=now, limit=batch_size, worker=worker)
            if not rows:
                break
            report.claimed += len(rows)
            outbox_ids = Materialiser(session, schedules=schedules, default=default, now=now, report=report).run(rows)
            _record_outcomes(session, rows, now)
        report.outbox_rows += len(outbox_ids)
        if deliverer is not None and outbox_ids:
            # Deliver this batch while the next one is claimed and materialised.
            pending.append(deliverer.submit(outbox_ids, now=now))
        if len(rows) < batch_size:
            break
    for future in pending:
        delivery.add(future.result())
    if deliverer is not None:
        # Reminder rows a crashed tick materialised but never delivered (a restart loses nothing).
        with database.session() as session:
            leftovers = session.exec(select(OutboundMessage.id).where(
                OutboundMessage.status == "pending", OutboundMessage.next_attempt_at <= now,
                OutboundMessage.origin.like("reminder%")).order_by(OutboundMessage.id).limit(LEFTOVER_LIMIT)).all()
        if leftovers:
            delivery.add(deliverer.deliver(list(leftovers), now=now))
    report.requests, report.messages_sent = delivery.requests, delivery.recipients
    report.retrying, report.dead = delivery.retrying, delivery.dead
    report.seconds = round(clock.perf_counter() - started, 3)
    return report


# --- what is coming for one person (「我的提醒」) -------------------------------------------

# What else lies ahead for a person, from the room that owns it ("module:function", imported when
# 「我的提醒」 is asked): fn(session, *, user_id, now, config) -> [(moment, description)]. Without these an
# owner registered for a workshop, or with the 前測 due on Friday, read 「目前沒有排定的提醒」.
UPCOMING_PROVIDERS = (
    "activities.service:upcoming_for",
    "assessments.service:upcoming_for",
)


def upcoming_for(session: Session, *, user_id: str, schedules: dict[str, ProgramSchedule], now: datetime,
                 config=None, limit: int = 8) -> list[tuple[datetime, str]]:
    """(moment, description) of the milestones, visits and the rooms' dates ahead that concern this
    person."""
    items: list[tuple[datetime, str]] = []
    for provider in UPCOMING_PROVIDERS if config is not None else ():
        module, _, name = provider.partition(":")
        items += getattr(importlib.import_module(module), name)(session, user_id=user_id, now=now, config=config)
    for schedule in schedules.values():
        for milestone in schedule.milestones:
            if milestone.at is None or milestone.at <= now or milestone.kind != "notice":
                continue
            if audiences.resolve_any(session, names=milestone.audience, program_id=schedule.program_id, user_id=user_id):
                items.append((milestone.at, milestone.title))
    company_ids = select(CompanyMember.company_id).where(CompanyMember.line_user_id == user_id)
    visits = session.exec(select(Visit, Company.name).join(Company, Company.id == Visit.company_id).where(
        Visit.deleted_at.is_(None), Visit.status.in_(("booked", "confirmed")), Visit.scheduled_at > now,
        sa.or_(Visit.advisor_line_user_id == user_id, Visit.company_id.in_(company_ids)))
        .order_by(Visit.scheduled_at).limit(limit)).all()
    for visit, name in visits:
        items.append((visit.scheduled_at, t("reminders.my_reminders_visit", mode=mode_label(visit.mode),
                                            company=name or f"#{visit.company_id}")))
    items.sort(key=lambda item: item[0])
    return items[:limit]
