"""Scheduler handlers (scheduler.service.DIGEST_HANDLERS) for adoption and normal use:

* ``adoption_digest`` — before the adoption deadline (002 雲端服務條件 1: 112/7/31), each advisor
  gets the list of their companies not yet adopted; staff the totals. The owners themselves get the
  milestone's notice (audience ``owners_tool_not_adopted``, now backed by confirmed adoptions).
* ``usage_ask`` — each month, owners of companies using a tool are asked for last month's figure,
  with a 「回報使用量」 button; companies that already reported that month are not asked again.

Both run inside the tick's claiming transaction and queue through the materialiser: each goes
out once, whatever the number of ticks or schedulers.
"""
from __future__ import annotations

from collections import defaultdict

from sqlmodel import select

from adoption import service
from adoption.models import UsageReport
from bot.messages import Choice, Text, encode_postback
from bot.outbox import enqueue_multicast
from bot.texts import t
from bot.timeutil import format_roc_datetime, to_taipei
from checkpoints.settings import from_data
from companies.models import Company, CompanyMember
from scheduler import audiences

MAX_LINES = 30  # a phone screen's worth


def _days_left(materialiser, milestone) -> int:
    return (to_taipei(milestone.at).date() - to_taipei(materialiser.now).date()).days


def adoption_digest(materialiser, row, schedule, milestone) -> None:
    session = materialiser.session
    companies = session.exec(select(Company).where(
        Company.program_id == schedule.program_id, Company.status == "active",
        Company.letter_status == "signed")).all()
    missing = [c for c in companies if c.tool_adopted_at is None]
    pending = service.pending_by_company(session, company_ids=[c.id for c in missing])
    values = dict(title=milestone.title, when=format_roc_datetime(milestone.at), days=_days_left(materialiser, milestone))
    by_advisor: dict[str, list[Company]] = defaultdict(list)
    for company in missing:
        if company.advisor_line_user_id:
            by_advisor[company.advisor_line_user_id].append(company)
    reachable = audiences.reachable(session, by_advisor.keys())
    for advisor, items in sorted(by_advisor.items()):
        if advisor not in reachable:
            continue
        lines = [t("adoption.digest_line", company=service.company_name(c),
                   pending=t("adoption.digest_pending") if c.id in pending else "") for c in items[:MAX_LINES]]
        if len(items) > MAX_LINES:
            lines.append(t("adoption.digest_more", count=len(items) - MAX_LINES))
        materialiser.pushes.append((advisor, [Text(t("adoption.digest_advisor", lines="\n".join(lines), **values))],
                                    f"rem:{row.key}:{advisor}"))
    staff = audiences.resolve(session, names=["staff"], program_id=schedule.program_id)
    if staff:
        text = t("adoption.digest_staff", adopted=len(companies) - len(missing), companies=len(companies),
                 missing=len(missing), pending=len(pending), **values)
        materialiser.outbox_ids += [r.id for r in enqueue_multicast(
            session, to=staff, replies=[Text(text)], idempotency_key=f"rem:{row.key}:staff",
            origin=f"reminder:{row.id}", not_before=materialiser.now)]
    materialiser.done(row, f"{len(by_advisor)} advisors, {len(staff)} staff")


def usage_ask(materialiser, row, schedule, milestone) -> None:
    session = materialiser.session
    period = milestone.options.get("period") or service.previous_period(milestone.at)
    program = from_data(schedule.program_id, schedule.raw)
    minimum = program.usage_minimum
    if minimum is None:
        return materialiser.skip(row, "no usage minimum")
    reported = select(UsageReport.company_id).where(UsageReport.period == period)
    members = session.exec(select(CompanyMember.line_user_id, Company.id, Company.name, Company.tax_id)
                           .join(Company, Company.id == CompanyMember.company_id)
                           .where(Company.program_id == schedule.program_id, Company.status == "active",
                                  Company.tool_adopted_at.is_not(None), CompanyMember.role == "owner",
                                  Company.id.not_in(reported))).all()
    reachable = audiences.reachable(session, [m[0] for m in members])
    asked = 0
    for owner, company_id, name, tax_id in members:
        if owner not in reachable:
            continue
        text = t("adoption.usage_ask_push", company=name or tax_id or "", period=service.period_label(period),
                 label=minimum.label)
        button = Choice(t("adoption.usage_button"), data=encode_postback(c="usage_report", arg=f"{company_id}:{period}"),
                        display=t("adoption.usage_button"))
        materialiser.pushes.append((owner, [Text(text, (button,))], f"rem:{row.key}:{owner}:{company_id}"))
        asked += 1
    materialiser.done(row, f"{asked} owners asked")

