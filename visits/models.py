"""A consultation visit: booked ahead (status booked/confirmed/…) or logged after the fact (done).

Counts toward the visit rule of seed 002 叁 基本工作項目 (each company: ≥ 3 advisor visits, ≥ 1
on-site) only when status is "done" and it is not deleted."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class Visit(SQLModel, table=True):
    __tablename__ = "visits"
    __table_args__ = (sa.Index("ix_visits_company_status", "company_id", "status"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="companies.id", index=True)
    advisor_line_user_id: Optional[str] = Field(default=None, max_length=64, index=True)
    scheduled_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime, index=True)  # booked time
    visited_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)  # when it happened (logged)
    mode: str = Field(default="onsite", max_length=10)  # onsite | online | phone
    duration_minutes: Optional[int] = None
    topics: Optional[str] = Field(default=None, max_length=500)  # topics / tools (e.g. POS教學)
    notes: Optional[str] = Field(default=None, max_length=2000)
    photos: list = Field(default_factory=list, sa_type=sa.JSON)  # stored file references
    status: str = Field(default="booked", max_length=20)  # booked | confirmed | reschedule_requested | cancelled | done
    created_by: Optional[str] = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    deleted_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
