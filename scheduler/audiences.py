"""Who a milestone concerns: named rules, evaluated in SQL when the reminder is sent.

Each rule returns a SELECT of LINE user ids. Resolution always intersects with people we may
push to (following, reminders on, processing not stopped — 個資法 第3條), so evaluating at send
time means a reason that disappeared (the letter got signed, the tool was adopted) sends nothing.
"""
from __future__ import annotations

from typing import Callable, Iterable

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.models import RoleGrant, User
from companies.models import Company, CompanyMember

Rule = Callable[[str], sa.Select]
AUDIENCES: dict[str, Rule] = {}


def audience(name: str):
    def decorator(rule: Rule) -> Rule:
        AUDIENCES[name] = rule
        return rule
    return decorator


def _owners(program_id: str, *conditions) -> sa.Select:
    return (select(CompanyMember.line_user_id)
            .join(Company, Company.id == CompanyMember.company_id)
            .where(CompanyMember.role == "owner", Company.program_id == program_id,
                   Company.status == "active", *conditions))


@audience("owners_eligible_no_letter")
def owners_eligible_no_letter(program_id: str) -> sa.Select:
    """Owners told they are eligible who have not signed the letter of intent (002 陸 四 (四))."""
    return _owners(program_id, Company.verdict == "eligible", Company.letter_status == "none")


@audience("owners_letter_missing")
def owners_letter_missing(program_id: str) -> sa.Select:
    """Owners of active companies without a signed letter, whatever their verdict (a successor
    staff brought in to replace a company; 002 叁 注意事項)."""
    return _owners(program_id, Company.letter_status != "signed")


@audience("owners_tool_not_adopted")
def owners_tool_not_adopted(program_id: str) -> sa.Select:
    """Recruited owners (letter signed) whose cloud tool adoption is not confirmed yet."""
    return _owners(program_id, Company.letter_status == "signed", Company.tool_adopted_at.is_(None))


@audience("owners_in_programme")
def owners_in_programme(program_id: str) -> sa.Select:
    return _owners(program_id, Company.letter_status == "signed")


@audience("advisors")
def advisors(program_id: str) -> sa.Select:
    """Everyone holding the advisor role, plus advisors assigned to this programme's companies."""
    assigned = select(Company.advisor_line_user_id).where(
        Company.program_id == program_id, Company.status == "active", Company.advisor_line_user_id.is_not(None))
    granted = select(RoleGrant.line_user_id).where(RoleGrant.role == "advisor")
    return sa.union(granted, assigned)


@audience("staff")
def staff(program_id: str) -> sa.Select:
    return select(RoleGrant.line_user_id).where(RoleGrant.role == "staff")


@audience("everyone_following")
def everyone_following(program_id: str) -> sa.Select:
    return select(User.line_user_id)


def reachable_condition():
    """People a scheduled push may go to."""
    return sa.and_(User.is_following.is_(True), User.reminders_enabled.is_(True),
                   User.processing_stopped.is_(False))


def _members(names: Iterable[str], program_id: str):
    """The user-id column of the union of the named rules (each wrapped, since SQLite cannot
    nest compound selects)."""
    parts = [select(list(AUDIENCES[name](program_id).subquery().c)[0].label("line_user_id")) for name in names]
    if not parts:
        return None
    members = (sa.union(*parts) if len(parts) > 1 else parts[0]).subquery()
    return members.c.line_user_id


def resolve(session: Session, *, names: Iterable[str], program_id: str, only: str | None = None,
            among: list[str] | None = None) -> list[str]:
    """Reachable LINE user ids in the union of the named rules, sorted (stable multicast chunks).
    ``among`` restricts the answer to those ids (re-checking personal reminders in bulk)."""
    column = _members(names, program_id)  # unknown name: KeyError (a data error)
    if column is None:
        return []
    statement = select(User.line_user_id).where(reachable_condition(), User.line_user_id.in_(select(column)))
    if only is not None:
        statement = statement.where(User.line_user_id == only)
    if among is not None:
        found: set[str] = set()
        for start in range(0, len(among), 900):
            found |= set(session.exec(statement.where(User.line_user_id.in_(among[start:start + 900]))).all())
        return sorted(found)
    return sorted(session.exec(statement.order_by(User.line_user_id)).all())


def reachable(session: Session, user_ids: Iterable[str]) -> set[str]:
    ids = list(set(user_ids))
    found: set[str] = set()
    for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
        chunk = ids[start:start + 900]
        found |= set(session.exec(select(User.line_user_id).where(
            User.line_user_id.in_(chunk), reachable_condition())).all())
    return found


def resolve_any(session: Session, *, names: Iterable[str], program_id: str, user_id: str) -> bool:
    """Whether ``user_id`` is in the union of the named rules (ignoring whether reminders are on:
    「我的提醒」 still lists what concerns someone who paused them)."""
    column = _members(names, program_id)
    if column is None:
        return False
    return session.exec(select(column).where(column == user_id).limit(1)).first() is not None
