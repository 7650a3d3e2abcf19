"""Tool adoption and monthly usage: keyword-only functions over a session (the caller owns the
transaction).

Who may do what (security is behaviour): an advisor records adoption for the companies assigned
to them, staff for any active company; only a LINE user linked to the company (CompanyMember)
confirms or declines it, or reports its usage. Every refusal is an ``AdoptionError`` with a code
the chat turns into a zh-TW message; nothing is written when one is raised.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from adoption.models import OPEN, ToolAdoption, UsageReport, UsageScreenshot
from bot.db import utc_now
from bot.messages import Card, Choice, Text, encode_postback
from bot.outbox import enqueue_multicast, enqueue_push
from bot.services import audit, user_ids_with_role
from bot.texts import t
from bot.timeutil import format_roc_date, to_taipei
from checkpoints.settings import Programme, taipei_day_start
from companies.models import Company
from companies.service import is_member, owners_of
from visits.photos import sniff_mime

RECORDER_ROLES = frozenset({"advisor", "staff"})
MAX_FIGURE = 10_000_000  # a monthly count beyond this is a typo (an extra zero or a phone number)


class AdoptionError(Exception):
    """A refused request. ``code``: not_found, not_yours, unknown_tool, outside_period, future,
    duplicate, already_answered, not_image, bad_figure; ``info`` fills the message."""

    def __init__(self, code: str, **info):
        super().__init__(code)
        self.code = code
        self.info = info


def company_name(company: Company) -> str:
    return company.name or company.tax_id or f"#{company.id}"


def can_record(company: Company, *, actor: str, roles) -> bool:
    return company.status == "active" and (
        "staff" in roles or ("advisor" in roles and company.advisor_line_user_id == actor))


def recordable_companies(session: Session, *, actor: str, roles) -> list[Company]:
    """Companies this person may record adoption for: staff any active one, an advisor theirs."""
    statement = select(Company).where(Company.status == "active").order_by(Company.id)
    if "staff" not in roles:
        if "advisor" not in roles:
            return []
        statement = statement.where(Company.advisor_line_user_id == actor)
    return list(session.exec(statement).all())


def open_adoptions(session: Session, *, company_id: int) -> list[ToolAdoption]:
    return list(session.exec(select(ToolAdoption).where(ToolAdoption.company_id == company_id,
                                                        ToolAdoption.status.in_(OPEN))
                             .order_by(ToolAdoption.id)).all())


@dataclass
class Recorded:
    company: Company
    adoptions: list[ToolAdoption]
    duplicates: list[ToolAdoption]  # tools already recorded (pending or confirmed): left as they were
    owners: list[str]  # who was asked to confirm (none: nobody speaks for the company on LINE yet)


def check_day(program: Programme, day: date, *, today: date) -> None:
    if day > today:
        raise AdoptionError("future", day=format_roc_date(day))
    if not program.in_period(day):
        start, end = program.period
        raise AdoptionError("outside_period", day=format_roc_date(day), start=format_roc_date(start),
                            end=format_roc_date(end))


def record_adoption(session: Session, *, program: Programme, company_id: int, tool_ids: list[str],
                    started_on: date, actor: str, roles, via: str = "chat", now: datetime | None = None) -> Recorded:
    """Record that the company started using the tools on ``started_on`` and ask its owners to
    confirm. Tools already recorded are left alone (reported in ``duplicates``); when all are,
    nothing is written (AdoptionError "duplicate")."""
    now = now or utc_now()
    company = session.get(Company, company_id)
    if company is None or company.program_id != program.id:
        raise AdoptionError("not_found")
    if not can_record(company, actor=actor, roles=roles):
        raise AdoptionError("not_yours", company=company_name(company))
    unknown = [tool_id for tool_id in tool_ids if program.tool(tool_id) is None]
    if unknown or not tool_ids:
        raise AdoptionError("unknown_tool", tool="、".join(unknown))
    check_day(program, started_on, today=to_taipei(now).date())
    existing = {a.tool_id: a for a in open_adoptions(session, company_id=company.id)}
    duplicates = [existing[tool_id] for tool_id in tool_ids if tool_id in existing]
    fresh = [tool_id for tool_id in dict.fromkeys(tool_ids) if tool_id not in existing]
    if not fresh:
        raise AdoptionError("duplicate", company=company_name(company), lines=duplicate_lines(program, duplicates))
    rows = []
    try:
        with session.begin_nested():  # two advisors at once: the unique index decides, nothing half-written
            for tool_id in fresh:
                row = ToolAdoption(program_id=program.id, company_id=company.id, tool_id=tool_id,
                                   started_on=started_on, recorded_by=actor, recorded_at=now, via=via)
                session.add(row)
                rows.append(row)
            session.flush()
    except IntegrityError:
        raise AdoptionError("duplicate", company=company_name(company),
                            lines=duplicate_lines(program, open_adoptions(session, company_id=company.id))) from None
    audit(session, actor=actor, action="adoption_recorded", target=f"company:{company.id}",
          tools=fresh, started_on=started_on.isoformat(), via=via)
    owners = owners_of(session, company_id=company.id)
    for owner in owners:
        enqueue_push(session, to=owner, replies=[confirmation_card(program, company, rows)],
                     idempotency_key=f"adoption:{rows[0].id}:ask:{owner}", origin=f"adoption:{company.id}")
    return Recorded(company, rows, duplicates, owners)


def duplicate_lines(program: Programme, rows: list[ToolAdoption]) -> str:
    return "\n".join(t("adoption.duplicate_line", tool=program.tool_name(a.tool_id),
                       day=format_roc_date(a.started_on), status=t(f"adoption.status_{a.status}"))
                     for a in rows)


def confirmation_card(program: Programme, company: Company, rows: list[ToolAdoption]) -> Card:
    ids = ".".join(str(a.id) for a in rows)
    tools = "、".join(program.tool_name(a.tool_id) for a in rows)
    return Card(
        title=t("adoption.confirm_title"),
        rows=((t("adoption.label_company"), company_name(company)), (t("adoption.label_tools"), tools),
              (t("adoption.label_started"), format_roc_date(rows[0].started_on))),
        body=t("adoption.confirm_body"),
        buttons=(Choice(t("adoption.confirm_yes"), data=encode_postback(c="adoption_answer", arg=f"{ids}:y"),
                        display=t("adoption.confirm_yes")),
                 Choice(t("adoption.confirm_no"), data=encode_postback(c="adoption_answer", arg=f"{ids}:n"),
                        display=t("adoption.confirm_no_display"))),
        alt_text=t("adoption.confirm_alt", company=company_name(company), tools=tools))


@dataclass
class Answered:
    company: Company
    adoptions: list[ToolAdoption]
    confirmed: bool


def pending_for_user(session: Session, *, user_id: str) -> list[ToolAdoption]:
    """Adoptions waiting for this person's answer (the companies they speak for)."""
    from companies.models import CompanyMember

    return list(session.exec(select(ToolAdoption).join(CompanyMember, CompanyMember.company_id == ToolAdoption.company_id)
                             .where(CompanyMember.line_user_id == user_id, ToolAdoption.status == "pending")
                             .order_by(ToolAdoption.id)).all())


def answer(session: Session, *, program_of, adoption_ids: list[int], user_id: str, confirmed: bool,
           now: datetime | None = None) -> Answered:
    """The owner's 「是，已開始使用」 / 「還沒」. Only someone linked to the company may answer, once.
    ``program_of(program_id)`` gives the Programme (for tool names in the advisor's notice)."""
    now = now or utc_now()
    rows = list(session.exec(select(ToolAdoption).where(ToolAdoption.id.in_(adoption_ids or [-1]))
                             .order_by(ToolAdoption.id)).all())
    if not rows or len({row.company_id for row in rows}) != 1:
        raise AdoptionError("not_found")
    company = session.get(Company, rows[0].company_id)
    if company is None or not is_member(session, company_id=company.id, line_user_id=user_id):
        audit(session, actor=user_id, action="adoption_answer_refused", target=f"company:{rows[0].company_id}")
        raise AdoptionError("not_yours", company="")
    pending = [row for row in rows if row.status == "pending"]
    if not pending:
        raise AdoptionError("already_answered", company=company_name(company),
                            status=t(f"adoption.status_{rows[0].status}"))
    for row in pending:
        row.status = "confirmed" if confirmed else "declined"
        row.answered_by, row.answered_at = user_id, now
        session.add(row)
    if confirmed:
        first = taipei_day_start(min(row.started_on for row in pending))
        if company.tool_adopted_at is None or first < company.tool_adopted_at:
            company.tool_adopted_at = first
            company.updated_at = now
            session.add(company)
    audit(session, actor=user_id, action="adoption_confirmed" if confirmed else "adoption_declined",
          target=f"company:{company.id}", tools=[row.tool_id for row in pending])
    program = program_of(company.program_id)
    tools = "、".join(program.tool_name(row.tool_id) for row in pending)
    notice = t("adoption.advisor_confirmed" if confirmed else "adoption.advisor_declined",
               company=company_name(company), tools=tools, day=format_roc_date(pending[0].started_on))
    for person in dict.fromkeys(p for p in (company.advisor_line_user_id, pending[0].recorded_by) if p):
        enqueue_push(session, to=person, replies=[Text(notice)],
                     idempotency_key=f"adoption:{pending[0].id}:answered:{person}", origin=f"adoption:{company.id}")
    return Answered(company, pending, confirmed)


def confirmed_by_company(session: Session, *, company_ids: list[int], as_of: datetime) -> dict[int, list[ToolAdoption]]:
    """Confirmed adoptions per company, answered by ``as_of`` (the evidence is the answer)."""
    found: dict[int, list[ToolAdoption]] = {cid: [] for cid in company_ids}
    for start in range(0, len(company_ids), 900):
        for row in session.exec(select(ToolAdoption).where(
                ToolAdoption.company_id.in_(company_ids[start:start + 900]), ToolAdoption.status == "confirmed",
                ToolAdoption.answered_at <= as_of).order_by(ToolAdoption.started_on, ToolAdoption.id)).all():
            found[row.company_id].append(row)
    return found


def pending_by_company(session: Session, *, company_ids: list[int]) -> dict[int, list[ToolAdoption]]:
    found: dict[int, list[ToolAdoption]] = {}
    for start in range(0, len(company_ids), 900):
        for row in session.exec(select(ToolAdoption).where(
                ToolAdoption.company_id.in_(company_ids[start:start + 900]), ToolAdoption.status == "pending")
                .order_by(ToolAdoption.id)).all():
            found.setdefault(row.company_id, []).append(row)
    return found


# --- normal use (常態流量) ---------------------------------------------------------------------

def period_of(moment: datetime | date) -> str:
    day = to_taipei(moment).date() if isinstance(moment, datetime) else moment
    return f"{day.year}-{day.month:02d}"


def previous_period(moment: datetime) -> str:
    day = to_taipei(moment).date()
    return f"{day.year - 1}-12" if day.month == 1 else f"{day.year}-{day.month - 1:02d}"


def period_label(period: str) -> str:
    """'2023-07' -> '112/07' (ROC, as the forms print it)."""
    year, month = period.split("-")
    return f"{int(year) - 1911}/{month}"


def valid_period(period: str) -> bool:
    try:
        year, month = (int(part) for part in period.split("-"))
    except ValueError:
        return False
    return 2000 <= year <= 2100 and 1 <= month <= 12


def reportable_companies(session: Session, *, user_id: str) -> list[Company]:
    """The person's active companies that use a tool (adoption confirmed): they report usage."""
    from companies.models import CompanyMember

    return list(session.exec(select(Company).join(CompanyMember, CompanyMember.company_id == Company.id)
                             .where(CompanyMember.line_user_id == user_id, Company.status == "active",
                                    Company.tool_adopted_at.is_not(None)).order_by(Company.id)).all())


def report_usage(session: Session, *, program: Programme, company_id: int, period: str, user_id: str,
                 figure: float | None = None, screenshot: tuple[str, bytes] | None = None,
                 now: datetime | None = None) -> UsageReport:
    """Record the month's figure and/or a screenshot (LINE message id, bytes). A figure below the
    usage minimum is flagged to the company's advisor and to staff, once per figure."""
    now = now or utc_now()
    company = session.get(Company, company_id)
    if company is None or not is_member(session, company_id=company_id, line_user_id=user_id):
        raise AdoptionError("not_yours", company="")
    if not valid_period(period):
        raise AdoptionError("not_found")
    if figure is not None and not (0 <= figure <= MAX_FIGURE):
        raise AdoptionError("bad_figure")
    mime = sniff_mime(screenshot[1]) if screenshot else None
    if screenshot and not mime.startswith("image/"):
        raise AdoptionError("not_image")
    report = session.exec(select(UsageReport).where(UsageReport.company_id == company_id,
                                                    UsageReport.period == period)).first()
    if report is None:
        report = UsageReport(program_id=company.program_id, company_id=company_id, period=period,
                             reported_by=user_id, reported_at=now)
    minimum = program.usage_minimum.monthly if program.usage_minimum else None
    changed = figure is not None and figure != report.figure
    if figure is not None:
        report.figure, report.minimum = figure, minimum
    report.reported_by, report.updated_at = user_id, now
    session.add(report)
    session.flush()
    if screenshot and session.exec(select(UsageScreenshot.id).where(
            UsageScreenshot.message_id == screenshot[0])).first() is None:
        session.add(UsageScreenshot(report_id=report.id, message_id=screenshot[0], mime=mime,
                                    size=len(screenshot[1]), data=screenshot[1], created_at=now))
    audit(session, actor=user_id, action="usage_reported", target=f"company:{company_id}", period=period,
          figure=figure is not None, screenshot=bool(screenshot))
    if changed and report.meets_minimum is False:
        report.flagged_at = now
        session.add(report)
        _flag_below_minimum(session, program=program, company=company, report=report)
    return report


def _flag_below_minimum(session: Session, *, program: Programme, company: Company, report: UsageReport) -> None:
    minimum = program.usage_minimum
    text = t("adoption.usage_flag", company=company_name(company), period=period_label(report.period),
             label=minimum.label, figure=f"{report.figure:g}", minimum=f"{minimum.monthly:g}", unit=minimum.unit)
    key = f"usage-flag:{report.id}:{report.figure:g}"
    if company.advisor_line_user_id:
        enqueue_push(session, to=company.advisor_line_user_id, replies=[Text(text)], idempotency_key=f"{key}:advisor",
                     origin=f"usage:{company.id}")
    staff = [uid for uid in user_ids_with_role(session, "staff") if uid != company.advisor_line_user_id]
    if staff:
        enqueue_multicast(session, to=staff, replies=[Text(text)], idempotency_key=f"{key}:staff",
                          origin=f"usage:{company.id}")


def latest_reports(session: Session, *, company_ids: list[int], as_of: datetime) -> dict[int, UsageReport]:
    """Each company's report for the latest month reported by ``as_of``."""
    found: dict[int, UsageReport] = {}
    last = period_of(as_of)
    for start in range(0, len(company_ids), 900):
        for report in session.exec(select(UsageReport).where(
                UsageReport.company_id.in_(company_ids[start:start + 900]), UsageReport.period <= last,
                UsageReport.reported_at <= as_of).order_by(UsageReport.period)).all():
            found[report.company_id] = report
    return found


def screenshot_counts(session: Session, *, report_ids: list[int]) -> dict[int, int]:
    if not report_ids:
        return {}
    return dict(session.exec(select(UsageScreenshot.report_id, sa.func.count(UsageScreenshot.id))
                             .where(UsageScreenshot.report_id.in_(report_ids))
                             .group_by(UsageScreenshot.report_id)).all())
