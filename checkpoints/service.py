"""Checkpoint KPIs: each KPI of programs.yaml counted by its registered metric, against the number
due by the next checkpoint (002 附件一 肆 二 計畫查核點). Keyword-only functions over a session.

Statuses: ``done`` (the whole target reached), ``on_track`` (what the next checkpoint needs is
there), ``behind`` (it is not), ``not_tracked`` (no metric provider yet: shown as such, never 0).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.db import utc_now
from bot.timeutil import format_roc_datetime, to_taipei
from checkpoints.metrics import MetricResult, evaluate
from checkpoints.settings import Checkpoint, Kpi, Programme
from companies.models import Company
from letters.models import Letter, LetterVersion

STATUSES = ("done", "on_track", "behind", "not_tracked")


def programme_companies(session: Session, *, program_id: str, as_of: datetime | None = None) -> list[Company]:
    """The companies a checkpoint counts: active in the programme, with a letter of intent signed
    by ``as_of`` (帶動企業 = 企業合作意向書 on file; 002 附件一 肆 二 佐證資料)."""
    first_signed = (select(LetterVersion.letter_id, sa.func.min(LetterVersion.signed_at).label("signed_at"))
                    .group_by(LetterVersion.letter_id).subquery())
    statement = (select(Company).join(Letter, Letter.company_id == Company.id)
                 .join(first_signed, first_signed.c.letter_id == Letter.id)
                 .where(Company.program_id == program_id, Company.status == "active", Letter.status == "signed")
                 .order_by(Company.id))
    if as_of is not None:
        statement = statement.where(first_signed.c.signed_at <= as_of)
    return list(session.exec(statement).all())


def listed_companies(session: Session, *, program_id: str, as_of: datetime) -> list[Company]:
    """An evidence pack's company list: the programme companies at ``as_of``, then those replaced
    or withdrawn (抽換 is part of the record the office checks against the 50 % rule)."""
    current = programme_companies(session, program_id=program_id, as_of=as_of)
    gone = session.exec(select(Company).where(Company.program_id == program_id,
                                              Company.status.in_(("replaced", "withdrawn")))
                        .order_by(Company.id)).all()
    return [*current, *gone]


@dataclass
class KpiLine:
    kpi: Kpi
    result: MetricResult | None
    due: float
    due_by: Checkpoint | None

    @property
    def status(self) -> str:
        if self.result is None:
            return "not_tracked"
        if self.result.done >= self.kpi.target:
            return "done"
        return "on_track" if self.result.done >= self.due else "behind"

    @property
    def missing(self) -> float | None:
        if self.result is None:
            return None
        gap = self.due - self.result.done
        return max(0, int(gap) if float(gap).is_integer() else round(gap, 2))

    @property
    def percent(self) -> int | None:
        """Of the whole target (for progress bars)."""
        if self.result is None or not self.kpi.target:
            return None
        return min(100, round(100 * self.result.done / self.kpi.target))

    @property
    def due_percent(self) -> int:
        return min(100, round(100 * self.due / self.kpi.target)) if self.kpi.target else 100


def kpi_lines(session: Session, *, program: Programme, as_of: datetime) -> list[KpiLine]:
    upcoming = program.next_checkpoint(as_of)
    lines = []
    for kpi in program.kpis:
        result = evaluate(session, kpi.metric, program=program, as_of=as_of)
        lines.append(KpiLine(kpi, result, kpi.due_at(upcoming), upcoming))
    return lines


def _number(value):
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else round(value, 2)


def _checkpoint_json(checkpoint: Checkpoint, program: Programme, as_of: datetime) -> dict:
    return {"number": checkpoint.number, "at": to_taipei(checkpoint.at).isoformat(),
            "at_roc": format_roc_datetime(checkpoint.at), "share": checkpoint.share,
            "days_left": (checkpoint.day - to_taipei(as_of).date()).days,
            "passed": checkpoint.at < as_of}


def report(session: Session, *, program: Programme, as_of: datetime | None = None,
           companies: bool = True) -> dict:
    """The checkpoint KPIs as JSON (``flask --app bot checkpoints --json``, GET /staff/api/checkpoints)."""
    as_of = as_of or utc_now()
    lines = kpi_lines(session, program=program, as_of=as_of)
    upcoming = program.next_checkpoint(as_of)
    payload = {
        "program": program.id, "program_name": program.name, "as_of": to_taipei(as_of).isoformat(),
        "next_checkpoint": _checkpoint_json(upcoming, program, as_of) if upcoming else None,
        "checkpoints": [_checkpoint_json(c, program, as_of) for c in program.checkpoints],
        "kpis": [{
            "id": line.kpi.id, "label": line.kpi.label, "unit": line.kpi.unit, "target": _number(line.kpi.target),
            "done": _number(line.result.done) if line.result else None,
            "due": _number(line.due), "due_by": line.due_by.number if line.due_by else None,
            "due_by_checkpoint": {str(c.number): _number(line.kpi.due_at(c)) for c in program.checkpoints},
            "missing": line.missing, "status": line.status, "metric": line.kpi.metric,
            "detail": line.result.detail if line.result else None,
            "evidence": line.kpi.evidence, "source": line.kpi.source,
        } for line in lines],
        "totals": {status: sum(1 for line in lines if line.status == status) for status in STATUSES},
    }
    if companies:
        payload["companies"] = company_rows(session, program=program, as_of=as_of, lines=lines)
    return payload


def company_rows(session: Session, *, program: Programme, as_of: datetime, lines: list[KpiLine]) -> list[dict]:
    """Per company: each company-level KPI met or not, and what is still missing (behind first)."""
    from staff.service import short_id, team_names

    per_company = [line for line in lines if line.result is not None and line.result.per_company is not None]
    names = team_names(session)
    rows = []
    for company in programme_companies(session, program_id=program.id, as_of=as_of):
        values = {line.kpi.id: line.result.per_company.get(company.id, False) for line in per_company}
        missing = [kpi_id for kpi_id, value in values.items() if value is False or value == 0]
        rows.append({"id": company.id, "name": company.name or company.tax_id or f"#{company.id}",
                     "tax_id": company.tax_id, "county": company.county,
                     "advisor": (names.get(company.advisor_line_user_id) or short_id(company.advisor_line_user_id))
                     if company.advisor_line_user_id else None,
                     "advisor_assigned": company.advisor_line_user_id is not None,
                     "kpis": {k: (_number(v) if not isinstance(v, bool) else v) for k, v in values.items()},
                     "missing": missing})
    rows.sort(key=lambda row: (-len(row["missing"]), row["id"]))
    return rows


def behind_by_advisor(rows: list[dict]) -> list[tuple[str, int, int]]:
    """(advisor name or '', companies behind, companies) — who is behind, most first."""
    counts: dict[str, list[int]] = {}
    for row in rows:
        entry = counts.setdefault(row["advisor"] or "", [0, 0])
        entry[0] += bool(row["missing"])
        entry[1] += 1
    return sorted(((name, behind, total) for name, (behind, total) in counts.items()), key=lambda x: (-x[1], x[0]))
