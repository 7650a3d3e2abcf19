"""Custom KPI figures (自訂績效指標, 002 叁): the owner's baseline and monthly figures per company."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class KpiFigure(SQLModel, table=True):
    """One figure per (company, indicator, period): a second answer for the same month corrects it
    (the row is updated, ``revisions`` counts how often). ``period`` is "baseline" (before the
    coaching) or the month it describes ("2023-07")."""

    __tablename__ = "kpi_figures"
    __table_args__ = (sa.UniqueConstraint("company_id", "indicator", "period"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="companies.id", index=True)
    program_id: str = Field(max_length=40)
    indicator: str = Field(max_length=40)  # an id of campaign.custom_kpis (metric custom.<id>)
    period: str = Field(max_length=8)
    value: float
    approximate: bool = False  # the owner said 「大約」「兩百多」…
    said: str = Field(default="", max_length=60)  # what was typed, as evidence of how it was read
    reported_by: str = Field(max_length=64)  # LINE user id, or "staff-token" / "cli"
    reported_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    revisions: int = 0
