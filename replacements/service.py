"""抽換 (002 叁 注意事項: 提案所提供之企業合作意向書，入案後抽換比例不得超過 50%): keyword-only
functions over a session (the caller owns the transaction).

A replacement counts against the limit when the replaced company's letter was among those
submitted with the proposal — the base letters.service.summary measures (letters created by
``campaign.proposal_deadline``; withdrawn ones count already). The check runs before anything is
written: over the limit, nothing changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from bot.db import utc_now
from bot.messages import Choice, Text
from bot.outbox import enqueue_push
from bot.services import audit
from bot.texts import t
from companies.models import Company
from companies.service import owners_of
from letters import document as doc
from letters import service as letters_service
from letters.models import Letter
from replacements.models import Replacement

REASONS = ("歇業", "不想參加了", "不符合資格", "聯絡不上", "已獲其他補助")
CHASE_AFTER = (timedelta(days=3), timedelta(days=7))  # the successor's letter: reminders if still unsigned


class ReplacementError(Exception):
    """code: not_found, not_active, bad_successor, no_reason, over_limit; info fills the message."""

    def __init__(self, code: str, **info):
        super().__init__(code)
        self.code = code
        self.info = info


def company_name(company: Company | None) -> str:
    if company is None:
        return "—"
    return company.name or company.tax_id or f"#{company.id}"


def counts_against_limit(session: Session, *, company: Company, campaign: dict) -> bool:
    """Whether replacing this company uses up the 50 %: its letter went in with the proposal and
    is not withdrawn (a withdrawn one is counted already)."""
    letter = session.exec(select(Letter).where(Letter.company_id == company.id)).first()
    if letter is None or letter.status == "withdrawn":
        return False
    deadline = campaign.get("proposal_deadline")
    return deadline is None or letter.created_at <= doc.parse_roc_datetime(deadline)


@dataclass
class Check:
    """The 50 % rule before and after a replacement (for the card staff confirm)."""

    count: int
    base: int
    limit: float
    counted: bool

    @property
    def after(self) -> int:
        return self.count + int(self.counted)

    @property
    def ratio_after(self) -> float:
        return self.after / self.base if self.base else 0.0

    @property
    def allowed(self) -> bool:
        return not self.counted or self.ratio_after <= self.limit + 1e-9

    @property
    def remaining(self) -> int:
        """How many more counted replacements the limit allows now."""
        return max(0, int(self.limit * self.base + 1e-9) - self.count)


def check(session: Session, *, company: Company, campaign: dict) -> Check:
    current = letters_service.summary(session, program_id=company.program_id, campaign=campaign)["replacements"]
    return Check(count=current["count"], base=current["base"], limit=current["limit"],
                 counted=counts_against_limit(session, company=company, campaign=campaign))


def replace_company(session: Session, *, company_id: int, reason: str, successor_id: int | None, actor: str,
                    campaign: dict, schedule=None, now: datetime | None = None) -> tuple[Replacement, Check]:
    """Mark ``company_id`` replaced by ``successor_id`` (optional) for ``reason``, if the 50 % rule
    allows; tell the successor's owners to sign their letter and remind them until they do."""
    now = now or utc_now()
    company = session.get(Company, company_id)
    if company is None:
        raise ReplacementError("not_found")
    if company.status != "active":
        raise ReplacementError("not_active", company=company_name(company))
    reason = " ".join((reason or "").split())[:200]
    if not reason:
        raise ReplacementError("no_reason")
    successor = session.get(Company, successor_id) if successor_id else None
    if successor_id and (successor is None or successor.id == company.id or successor.status != "active"
                         or successor.program_id != company.program_id):
        raise ReplacementError("bad_successor", company=company_name(successor))
    result = check(session, company=company, campaign=campaign)
    if not result.allowed:
        raise ReplacementError("over_limit", count=result.after, base=result.base, limit=f"{result.limit:.0%}",
                               ratio=f"{result.ratio_after:.0%}")
    company.status, company.updated_at = "replaced", now
    session.add(company)
    row = Replacement(program_id=company.program_id, company_id=company.id, successor_company_id=successor_id,
                      reason=reason, counted=result.counted, replaced_by=actor, replaced_at=now)
    session.add(row)
    if successor is not None and not successor.advisor_line_user_id and company.advisor_line_user_id:
        successor.advisor_line_user_id = company.advisor_line_user_id  # the same advisor takes it over
        successor.updated_at = now
        session.add(successor)
    session.flush()
    audit(session, actor=actor, action="company_replaced", target=f"company:{company.id}",
          successor=successor_id, counted=result.counted)
    if successor is not None and successor.letter_status != "signed":
        chase_letter(session, successor=successor, replacement=row, schedule=schedule, now=now)
    return row, result


def chase_letter(session: Session, *, successor: Company, replacement: Replacement, schedule, now: datetime) -> list[str]:
    """Ask the successor's owners to sign now, and again after 3 and 7 days while unsigned
    (scheduler personal reminders; audience ``owners_letter_missing`` is re-checked when due)."""
    from scheduler.service import schedule_reminder

    owners = owners_of(session, company_id=successor.id)
    text = t("replacements.chase_letter", company=company_name(successor))
    button = Choice(t("replacements.sign_button"))
    for owner in owners:
        enqueue_push(session, to=owner, replies=[Text(text, (button,))],
                     idempotency_key=f"replacement:{replacement.id}:chase:{owner}", origin=f"replacement:{replacement.id}")
        if schedule is not None:
            for delay in CHASE_AFTER:
                schedule_reminder(session, key=f"replacement:{replacement.id}:{delay.days}d", to=owner,
                                  due_at=now + delay, text=t("replacements.chase_reminder", company=company_name(successor)),
                                  schedule=schedule, audience=["owners_letter_missing"],
                                  quick_replies=[t("replacements.sign_button")])
    return owners


def replacements(session: Session, *, program_id: str) -> list[tuple[Replacement, Company, Company | None]]:
    rows = session.exec(select(Replacement).where(Replacement.program_id == program_id).order_by(Replacement.id)).all()
    return [(row, session.get(Company, row.company_id),
             session.get(Company, row.successor_company_id) if row.successor_company_id else None) for row in rows]


def active_companies(session: Session, *, program_id: str | None = None) -> list[Company]:
    statement = select(Company).where(Company.status == "active").order_by(Company.id)
    if program_id:
        statement = statement.where(Company.program_id == program_id)
    return list(session.exec(statement).all())
