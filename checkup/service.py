"""數位健檢 results: keyword-only functions over a session (the caller owns the transaction).

A company's first result is its baseline; any later one is a follow-up compared with it. Who may
answer for a company is who may speak for it: its members (companies.service — an approved
membership, not a pending request). Someone without a company may take the check-up too; the
result is kept on the person."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.db import utc_now
from checkup.models import CheckupResult
from checkup.settings import Checkup, Question
from companies.models import Company, CompanyMember
from companies.service import companies_of_user

BASELINE, FOLLOWUP = "baseline", "followup"


def companies_for(session: Session, *, line_user_id: str) -> list[Company]:
    """The active companies this person speaks for (a check-up is answered for one of them)."""
    return [c for c in companies_of_user(session, line_user_id=line_user_id) if c.status == "active"]


def save(session: Session, *, checkup: Checkup, line_user_id: str, company: Company | None, answers: dict,
         now: datetime | None = None) -> tuple[CheckupResult, CheckupResult | None]:
    """Score and keep a check-up; returns (the new result, the baseline it compares with or None)."""
    now = now or utc_now()
    baseline = first_result(session, company_id=company.id if company else None, line_user_id=line_user_id)
    scored = checkup.score(answers)
    row = CheckupResult(company_id=company.id if company else None, line_user_id=line_user_id,
                        program_id=company.program_id if company else None,
                        stage=FOLLOWUP if baseline is not None else BASELINE,
                        answers={k: str(v) for k, v in answers.items()}, points=scored.points, level=scored.level,
                        areas={k: list(v) for k, v in scored.areas.items()}, version=checkup.version, taken_at=now)
    session.add(row)
    session.flush()
    return row, baseline


def first_result(session: Session, *, company_id: int | None, line_user_id: str) -> CheckupResult | None:
    statement = select(CheckupResult)
    if company_id is not None:
        statement = statement.where(CheckupResult.company_id == company_id)
    else:
        statement = statement.where(CheckupResult.company_id.is_(None), CheckupResult.line_user_id == line_user_id)
    return session.exec(statement.order_by(CheckupResult.taken_at, CheckupResult.id).limit(1)).first()


@dataclass(frozen=True)
class Progress:
    """A company's baseline and latest result (the same row when it took the check-up once)."""

    baseline: CheckupResult
    latest: CheckupResult

    @property
    def compared(self) -> bool:
        return self.latest.id != self.baseline.id

    @property
    def change(self) -> int:
        return self.latest.level - self.baseline.level


def progress(session: Session, *, company_ids: list[int], as_of: datetime | None = None) -> dict[int, Progress]:
    """{company id: Progress} for companies with at least one result by ``as_of``."""
    found: dict[int, list[CheckupResult]] = {}
    for start in range(0, len(company_ids), 900):
        statement = select(CheckupResult).where(CheckupResult.company_id.in_(company_ids[start:start + 900]))
        if as_of is not None:
            statement = statement.where(CheckupResult.taken_at <= as_of)
        for row in session.exec(statement.order_by(CheckupResult.taken_at, CheckupResult.id)).all():
            found.setdefault(row.company_id, []).append(row)
    return {cid: Progress(rows[0], rows[-1]) for cid, rows in found.items()}


def person_progress(session: Session, *, line_user_id: str) -> Progress | None:
    """The baseline and latest result kept on a person who took the check-up without a company."""
    rows = session.exec(select(CheckupResult).where(CheckupResult.company_id.is_(None),
                                                    CheckupResult.line_user_id == line_user_id)
                        .order_by(CheckupResult.taken_at, CheckupResult.id)).all()
    return Progress(rows[0], rows[-1]) if rows else None


def improvements(checkup: Checkup, before: dict, after: dict) -> list[tuple[Question, str, str]]:
    """(question, the answer then, the answer now) for every question answered higher now."""
    moved = []
    for question in checkup.questions:
        old, new = question.option(str(before.get(question.id, ""))), question.option(str(after.get(question.id, "")))
        if old is not None and new is not None and new.points > old.points:
            moved.append((question, old.label, new.label))
    return moved


def pending_owners(session: Session, *, program_id: str, since: datetime | None) -> list[tuple[int, str, str]]:
    """(company id, name, owner's LINE id) of signed, active companies with no result since ``since``
    (None: none at all) — whom the scheduler asks to take the check-up."""
    taken = select(CheckupResult.id).where(CheckupResult.company_id == Company.id)
    if since is not None:
        taken = taken.where(CheckupResult.taken_at >= since)
    return list(session.exec(
        select(Company.id, Company.name, CompanyMember.line_user_id)
        .join(CompanyMember, CompanyMember.company_id == Company.id)
        .where(Company.program_id == program_id, Company.status == "active", Company.letter_status == "signed",
               CompanyMember.role == "owner", ~sa.exists(taken))
        .order_by(Company.id, CompanyMember.id)).all())


def level_text(entry: Progress | None) -> str:
    """「第 2 級 → 第 3 級」, 「第 2 級」 or '' (no check-up yet): for advisors' lists."""
    from bot.texts import t

    if entry is None:
        return ""
    if entry.compared:
        return t("checkup.level_change", before=entry.baseline.level, after=entry.latest.level)
    return t("checkup.level_short", level=entry.latest.level)
