"""數位能力評量 前測／後測 (002 捌 四 (七)): which company completed which test, when, and how we know."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class Completion(SQLModel, table=True):
    """One row per (company, test): a second 「已完成」 or import line changes nothing."""

    __tablename__ = "capability_test_completions"
    __table_args__ = (sa.UniqueConstraint("company_id", "test"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="companies.id", index=True)
    test: str = Field(max_length=20)  # a key of campaign.capability_tests: pretest | posttest
    completed_at: datetime = Field(sa_type=UTCDateTime)
    source: str = Field(max_length=12)  # owner (said 「已完成」) | import (the programme office's list) | staff
    recorded_by: str = Field(max_length=64)  # LINE user id, "cli" or "staff-token"
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
