"""Progress against the visit rule (seed 002 叁 基本工作項目: ≥ 3 visits per company, ≥ 1 on-site).

The thresholds come from the programmes file (``visit_rules``), not from code."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from visits.models import Visit


@dataclass(frozen=True)
class VisitProgress:
    company_id: int
    total: int
    onsite: int
    min_total: int
    min_onsite: int

    @property
    def meets_rule(self) -> bool:
        return self.total >= self.min_total and self.onsite >= self.min_onsite

    @property
    def missing_total(self) -> int:
        return max(0, self.min_total - self.total)

    @property
    def missing_onsite(self) -> int:
        return max(0, self.min_onsite - self.onsite)


def visit_progress(session: Session, *, company_ids: list[int], min_total: int, min_onsite: int) -> dict[int, VisitProgress]:
    """Done, non-deleted visits per company, in one grouped query."""
    counts = {cid: (0, 0) for cid in company_ids}
    if company_ids:
        onsite = sa.func.sum(sa.case((Visit.mode == "onsite", 1), else_=0))
        rows = session.exec(select(Visit.company_id, sa.func.count(Visit.id), onsite)
                            .where(Visit.company_id.in_(company_ids), Visit.status == "done",
                                   Visit.deleted_at.is_(None))
                            .group_by(Visit.company_id)).all()
        for company_id, total, onsite_count in rows:
            counts[company_id] = (int(total), int(onsite_count or 0))
    return {cid: VisitProgress(cid, total, onsite, min_total, min_onsite) for cid, (total, onsite) in counts.items()}
