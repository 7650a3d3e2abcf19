"""數位健檢 results: one row per check-up taken, kept per company (or on the person without one)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class CheckupResult(SQLModel, table=True):
    """The company's first result is its baseline; a later one (asked again near the end of the
    coaching period) is compared with it. Without a company the result is the person's own."""

    __tablename__ = "checkup_results"
    id: Optional[int] = Field(default=None, primary_key=True)
    company_id: Optional[int] = Field(default=None, foreign_key="companies.id", index=True)
    line_user_id: str = Field(max_length=64, index=True)  # who answered
    program_id: Optional[str] = Field(default=None, max_length=40)
    stage: str = Field(max_length=12)  # baseline (the first) | followup (any later one)
    answers: dict = Field(default_factory=dict, sa_type=sa.JSON)  # question id -> option id
    points: int
    level: int  # 004 貳 表1: 1..5
    areas: dict = Field(default_factory=dict, sa_type=sa.JSON)  # area id -> [points, max]
    version: int = 1  # of checkup.yaml's questions
    taken_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, index=True)
