"""Company records: keyword-only functions over a session (the caller owns the transaction)."""
from __future__ import annotations

from sqlmodel import Session, select

from bot.db import utc_now
from companies.models import Company, CompanyMember


def companies_of_user(session: Session, *, line_user_id: str) -> list[Company]:
    statement = (select(Company).join(CompanyMember, CompanyMember.company_id == Company.id)
                 .where(CompanyMember.line_user_id == line_user_id).order_by(Company.id))
    return list(session.exec(statement).all())


def latest_company_of_user(session: Session, *, line_user_id: str) -> Company | None:
    statement = (select(Company).join(CompanyMember, CompanyMember.company_id == Company.id)
                 .where(CompanyMember.line_user_id == line_user_id)
                 .order_by(Company.updated_at.desc(), Company.id).limit(1))
    return session.exec(statement).first()


def find_by_tax_id(session: Session, *, tax_id: str) -> Company | None:
    return session.exec(select(Company).where(Company.tax_id == tax_id)).first()


def members_of(session: Session, *, company_id: int) -> list[str]:
    return list(session.exec(select(CompanyMember.line_user_id).where(CompanyMember.company_id == company_id)).all())


def owners_of(session: Session, *, company_id: int) -> list[str]:
    """The LINE users who speak for the company as its owner (they confirm what is recorded about it)."""
    return list(session.exec(select(CompanyMember.line_user_id).where(
        CompanyMember.company_id == company_id, CompanyMember.role == "owner").order_by(CompanyMember.id)).all())


def is_member(session: Session, *, company_id: int, line_user_id: str) -> bool:
    return session.exec(select(CompanyMember.id).where(CompanyMember.company_id == company_id,
                                                       CompanyMember.line_user_id == line_user_id)).first() is not None


def upsert_company(session: Session, *, line_user_id: str, tax_id: str | None, fields: dict) -> tuple[Company, bool]:
    """Create or update the company for an intake. The same 統編 from a second LINE account is the
    same company (linked, not duplicated). Returns (company, linked_new_user_to_existing)."""
    company = find_by_tax_id(session, tax_id=tax_id) if tax_id else None
    if company is None and not tax_id:
        # No 統編 (稅籍 only or not given): reuse this user's company without one, if any.
        company = next((c for c in companies_of_user(session, line_user_id=line_user_id) if c.tax_id is None), None)
    members = members_of(session, company_id=company.id) if company is not None else []
    if company is None:
        company = Company(tax_id=tax_id)
    for key, value in fields.items():
        setattr(company, key, value)
    company.updated_at = utc_now()
    session.add(company)
    session.flush()
    if line_user_id not in members:
        session.add(CompanyMember(company_id=company.id, line_user_id=line_user_id, role="owner"))
        session.flush()
    return company, bool(members) and line_user_id not in members
