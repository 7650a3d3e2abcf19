"""The 前測／後測 on the scheduler: each tick (scheduler.service.register_planner) plans, for every
test open now, the link for each signed owner not done yet (so a company that signs later gets
it on the next tick) and, at the latest chase offset passed, one chase per owner still missing
and one list per advisor. All are personal reminders: exactly once (keys), quiet hours kept, and
an owner who completes meanwhile is not sent anything (the audience rule is checked at send)."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlmodel import Session, select

from assessments import service
from assessments.settings import TESTS, CapabilityTest, parse_tests
from bot.messages import encode_postback
from bot.texts import t
from bot.timeutil import format_roc_datetime, to_taipei
from scheduler import audiences
from scheduler.models import Reminder
from scheduler.service import schedule_reminder
from scheduler.settings import ProgramSchedule

DIGEST_MAX_LINES = 30


def _pending_rule(test_id: str):
    def rule(program_id: str):
        return service.pending_owner_ids(program_id=program_id, test=test_id)
    rule.__doc__ = f"Owners of signed companies that have not completed the {test_id}."
    return rule


for _test in TESTS:
    audiences.audience(f"owners_{_test}_pending")(_pending_rule(_test))


def buttons(test_id: str) -> list[dict]:
    return [{"label": t("assessments.button_done"), "data": encode_postback(c="assess_done", arg=test_id)},
            {"label": t("assessments.button_later"), "data": encode_postback(c="assess_later", arg=test_id)}]


def plan(session: Session, *, schedules: dict[str, ProgramSchedule], now: datetime) -> int:
    planned = 0
    for schedule in schedules.values():
        for test in parse_tests((schedule.raw or {}).get("campaign")).values():
            if test.is_open(now):
                planned += _plan_test(session, schedule, test, now)
    return planned


def _plan_test(session: Session, schedule: ProgramSchedule, test: CapabilityTest, now: datetime) -> int:
    program_id = schedule.program_id
    prefix = f"assess:{program_id}:{test.id}:"
    # One read of what was planned before, instead of one per owner (this runs every tick).
    existing = dict(session.exec(select(Reminder.key, Reminder.due_at)
                                 .where(Reminder.key.like(f"personal:{prefix}%"))).all())
    pending = service.pending_owners(session, program_id=program_id, test=test.id)
    rule = f"owners_{test.id}_pending"
    audience = [rule] if rule in audiences.AUDIENCES else None
    values = {"title": test.title, "due": format_roc_datetime(test.due), "url": test.url}
    planned = 0

    def plan_one(key: str, to: str, text: str, **extra) -> None:
        nonlocal planned
        if f"personal:{key}:{to}" in existing:
            return
        if schedule_reminder(session, key=key, to=to, due_at=now, text=text, schedule=schedule,
                             expires_at=test.due, **extra):
            planned += 1

    for company_id, _, owner, _ in pending:
        plan_one(f"{prefix}link:{company_id}", owner, t("assessments.link", **values), audience=audience,
                 quick_replies=buttons(test.id))
    passed = [(offset, moment) for offset in test.chase
              if test.opens <= (moment := schedule.offset_moment(test.as_milestone(), offset)) <= now]
    if not passed:
        return planned
    offset, moment = max(passed, key=lambda item: item[1])
    days = max(0, (to_taipei(test.due).date() - to_taipei(now).date()).days)
    by_advisor: dict[str, list[str]] = defaultdict(list)
    for company_id, name, owner, advisor in pending:
        link_due = existing.get(f"personal:{prefix}link:{company_id}:{owner}")
        if link_due is None or link_due >= moment:
            continue  # the link itself goes out only now: no chase on top of it
        plan_one(f"{prefix}chase{offset}:{company_id}", owner, t("assessments.chase", days=days, **values),
                 audience=audience, quick_replies=buttons(test.id))
        if advisor and name not in by_advisor[advisor]:
            by_advisor[advisor].append(name or f"#{company_id}")
    for advisor, names in sorted(by_advisor.items()):
        lines = [t("assessments.digest_line", company=name) for name in names[:DIGEST_MAX_LINES]]
        if len(names) > DIGEST_MAX_LINES:
            lines.append(t("assessments.digest_more", count=len(names) - DIGEST_MAX_LINES))
        plan_one(f"{prefix}chase{offset}:advisor", advisor,
                 t("assessments.digest_advisor", count=len(names), lines="\n".join(lines), days=days, **values))
    return planned
