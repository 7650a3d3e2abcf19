"""Custom KPI figures: keyword-only functions over a session (the caller owns the transaction).

A figure is per (company, indicator, period): "baseline" (before the coaching, given once) or a
month ("2023-07"). Reporting the same month again corrects it (an upsert, race-free on both
databases). The KPI of an indicator over companies is its ``aggregate`` (kpis.settings) of each
company's contribution: the latest month (by ``as_of``) against the baseline."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from adoption.service import period_label, previous_period, valid_period  # noqa: F401 (re-exported)
from bot.db import utc_now
from companies.models import Company, CompanyMember
from kpis.models import KpiFigure
from kpis.settings import BASELINE, Indicator


def record(session: Session, *, company_id: int, program_id: str, indicator: str, period: str, value: float,
           approximate: bool, said: str, reported_by: str, now: datetime | None = None) -> None:
    """Insert the figure, or correct the one already given for that period."""
    now = now or utc_now()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = KpiFigure.__table__
    statement = dialect.insert(table).values(
        company_id=company_id, program_id=program_id, indicator=indicator, period=period, value=float(value),
        approximate=approximate, said=(said or "")[:60], reported_by=reported_by[:64], reported_at=now, revisions=0)
    statement = statement.on_conflict_do_update(
        index_elements=["company_id", "indicator", "period"],
        set_={"value": statement.excluded.value, "approximate": statement.excluded.approximate,
              "said": statement.excluded.said, "reported_by": statement.excluded.reported_by,
              "reported_at": statement.excluded.reported_at, "revisions": table.c.revisions + 1})
    session.execute(statement)


def figures(session: Session, *, company_ids: list[int], as_of: datetime | None = None) -> list[KpiFigure]:
    found = []
    for start in range(0, len(company_ids), 900):
        statement = select(KpiFigure).where(KpiFigure.company_id.in_(company_ids[start:start + 900]))
        if as_of is not None:
            statement = statement.where(KpiFigure.reported_at <= as_of)
        found += session.exec(statement).all()
    return found


Series = dict[str, dict[str, KpiFigure]]  # indicator -> period -> figure


def series(session: Session, *, company_ids: list[int], as_of: datetime | None = None) -> dict[int, Series]:
    """{company id: {indicator: {period: figure}}}; months after ``as_of``'s month are left out."""
    limit = None
    if as_of is not None:
        from adoption.service import period_of
        limit = period_of(as_of)
    found: dict[int, Series] = {}
    for row in figures(session, company_ids=company_ids, as_of=as_of):
        if limit is not None and row.period != BASELINE and row.period > limit:
            continue
        found.setdefault(row.company_id, {}).setdefault(row.indicator, {})[row.period] = row
    return found


def latest_month(periods: dict[str, KpiFigure]) -> KpiFigure | None:
    months = sorted(p for p in periods if p != BASELINE)
    return periods[months[-1]] if months else None


def contribution(indicator: Indicator, periods: dict[str, KpiFigure] | None) -> float | None:
    """One company's part of the KPI, in the KPI's unit; None without the figures it needs."""
    periods = periods or {}
    latest, baseline = latest_month(periods), periods.get(BASELINE)
    if latest is None:
        return None
    if indicator.aggregate == "latest":
        value = latest.value
    elif baseline is None:
        return None
    elif indicator.aggregate == "reduction":
        value = baseline.value - latest.value
    else:
        value = latest.value - baseline.value
    return value / (indicator.per_kpi_unit or 1)


def combine(indicator: Indicator, values: list[float]) -> float:
    """The KPI from the companies' contributions: a sum, or for ``reduction`` the mean."""
    if not values:
        return 0
    total = sum(values) / len(values) if indicator.aggregate == "reduction" else sum(values)
    return round(total, 2)


@dataclass(frozen=True)
class Needs:
    """What a company still has to give: indicators without a baseline, and without ``period``."""

    baseline: tuple[str, ...]
    month: tuple[str, ...]

    @property
    def any(self) -> bool:
        return bool(self.baseline or self.month)


def needs(session: Session, *, company_id: int, indicators: tuple[Indicator, ...], period: str) -> Needs:
    given = set(session.exec(select(KpiFigure.indicator, KpiFigure.period).where(
        KpiFigure.company_id == company_id, KpiFigure.period.in_((BASELINE, period)))).all())
    return Needs(baseline=tuple(i.id for i in indicators if (i.id, BASELINE) not in given),
                 month=tuple(i.id for i in indicators if (i.id, period) not in given))


def last_values(session: Session, *, company_id: int, before: str) -> dict[str, KpiFigure]:
    """Each indicator's latest monthly figure before ``before`` (for 「和上次一樣」)."""
    found: dict[str, KpiFigure] = {}
    for row in session.exec(select(KpiFigure).where(KpiFigure.company_id == company_id, KpiFigure.period != BASELINE,
                                                    KpiFigure.period < before).order_by(KpiFigure.period)).all():
        found[row.indicator] = row
    return found


def pending_owners(session: Session, *, program_id: str, period: str, indicator_ids: tuple[str, ...]
                   ) -> list[tuple[int, str, str]]:
    """(company id, name, owner) of signed, active companies missing any indicator for ``period``."""
    if not indicator_ids:
        return []
    given = (select(sa.func.count(sa.distinct(KpiFigure.indicator)))
             .where(KpiFigure.company_id == Company.id, KpiFigure.period == period,
                    KpiFigure.indicator.in_(indicator_ids)).scalar_subquery())
    return list(session.exec(
        select(Company.id, Company.name, CompanyMember.line_user_id)
        .join(CompanyMember, CompanyMember.company_id == Company.id)
        .where(Company.program_id == program_id, Company.status == "active", Company.letter_status == "signed",
               CompanyMember.role == "owner", given < len(indicator_ids))
        .order_by(Company.id, CompanyMember.id)).all())


def reporting_companies(session: Session, *, line_user_id: str) -> list[Company]:
    """The active companies this person speaks for (companies.service membership)."""
    from companies.service import companies_of_user

    return [c for c in companies_of_user(session, line_user_id=line_user_id) if c.status == "active"]
