"""Activities (知能活動, 成果展示; 002 叁 基本工作項目 3–5) and who registered and checked in.

The check-in rows are the sign-in sheet (簽到表: company, person, time) the programme office asks
for as evidence; one row per (activity, LINE user), so a second tap or a second 「簽到」 can never
count a person twice."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class Activity(SQLModel, table=True):
    __tablename__ = "activities"
    id: Optional[int] = Field(default=None, primary_key=True)
    program_id: str = Field(default="gonghao-2023", max_length=40, index=True)
    kind: str = Field(max_length=12)  # a key of campaign.activities.kinds: workshop | showcase
    title: str = Field(max_length=100)
    starts_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    place: Optional[str] = Field(default=None, max_length=200)
    online_url: Optional[str] = Field(default=None, max_length=1000)
    capacity: Optional[int] = None  # None: no limit
    # The short code people type (「簽到 1234」) or scan; unique among activities still checking in.
    checkin_code: str = Field(max_length=8, index=True)
    status: str = Field(default="open", max_length=12)  # open | cancelled
    # Bumped when the time or place changes: reminders are keyed by it, so old texts are dropped.
    version: int = Field(default=1)
    invitations: list = Field(default_factory=list, sa_type=sa.JSON)  # broadcast ids of the invitations
    created_by: str = Field(max_length=64)  # LINE user id, or "staff-token"
    source: str = Field(default="chat", max_length=12)  # chat | dashboard
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    cancelled_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class ActivityRegistration(SQLModel, table=True):
    """A person's answer to an invitation and, once there, their check-in (the 簽到表 row)."""

    __tablename__ = "activity_registrations"
    __table_args__ = (sa.UniqueConstraint("activity_id", "line_user_id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="activities.id", index=True)
    line_user_id: str = Field(max_length=64, index=True)
    company_id: Optional[int] = Field(default=None, foreign_key="companies.id", index=True)  # None: no company
    attendee_name: Optional[str] = Field(default=None, max_length=60)  # as written on the sign-in sheet
    status: str = Field(default="registered", max_length=12)  # registered | declined
    walk_in: bool = Field(default=False)  # registered at the door by checking in
    responded_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    checked_in_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    checkin_source: Optional[str] = Field(default=None, max_length=12)  # line | staff
