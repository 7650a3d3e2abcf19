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
    companies = companies_of_user(session, line_user_id=line_user_id)
    return max(companies, key=lambda c: c.updated_at) if companies else None


def find_by_tax_id(session: Session, *, tax_id: str) -> Company | None:
    return session.exec(select(Company).where(Company.tax_id == tax_id)).first()


def link_member(session: Session, *, company: Company, line_user_id: str, role: str = "owner") -> bool:
    """Link a user to a company; returns True when the link is new."""
    existing = session.exec(select(CompanyMember).where(CompanyMember.company_id == company.id,
                                                        CompanyMember.line_user_id == line_user_id)).first()
    if existing:
        return False
    session.add(CompanyMember(company_id=company.id, line_user_id=line_user_id, role=role))
    session.flush()
    return True


def members_of(session: Session, *, company_id: int) -> list[str]:
    return list(session.exec(select(CompanyMember.line_user_id).where(CompanyMember.company_id == company_id)).all())


def upsert_company(session: Session, *, line_user_id: str, tax_id: str | None, fields: dict) -> tuple[Company, bool]:
    """Create or update the company for an intake. The same 統編 from a second LINE account is the
    same company (linked, not duplicated). Returns (company, linked_new_user_to_existing)."""
    company = find_by_tax_id(session, tax_id=tax_id) if tax_id else None
    second_account = False
    if company is None and not tax_id:
        # No 統編 (稅籍 only or not given): reuse this user's company without one, if any.
        company = next((c for c in companies_of_user(session, line_user_id=line_user_id) if c.tax_id is None), None)
    if company is None:
        company = Company(tax_id=tax_id)
    else:
        members = members_of(session, company_id=company.id)
        second_account = bool(members) and line_user_id not in members
    for key, value in fields.items():
        setattr(company, key, value)
    company.updated_at = utc_now()
    session.add(company)
    session.flush()
    link_member(session, company=company, line_user_id=line_user_id)
    return company, second_account
