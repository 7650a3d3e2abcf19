"""抽換: staff replace a recruited company with another (002 叁 注意事項: 入案後抽換比例不得超過
50%). The replaced company's ``Company.status`` becomes "replaced"; this row keeps why and who
took its place."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class Replacement(SQLModel, table=True):
    __tablename__ = "company_replacements"
    id: Optional[int] = Field(default=None, primary_key=True)
    program_id: str = Field(max_length=40, index=True)
    company_id: int = Field(foreign_key="companies.id", unique=True)  # replaced once
    successor_company_id: Optional[int] = Field(default=None, foreign_key="companies.id", index=True)
    reason: str = Field(max_length=200)
    counted: bool = Field(default=True)  # its letter was among those submitted with the proposal
    replaced_by: str = Field(max_length=64)  # staff LINE user id, or "staff-token" / "cli"
    replaced_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
