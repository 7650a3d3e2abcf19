"""Staff announcements (公告): what was sent, to which audience, when; and saved recipient lists.

Delivery itself is the outbox's (bot.outbox): one multicast row per ≤ 500 recipients with the
idempotency key ``broadcast:<id>@<chunk>``, so a report is a query over those rows."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class Broadcast(SQLModel, table=True):
    __tablename__ = "broadcasts"
    id: Optional[int] = Field(default=None, primary_key=True)
    created_by: str = Field(max_length=64)  # LINE user id, or "staff-token"
    source: str = Field(default="chat", max_length=12)  # chat | dashboard
    text: str = Field(max_length=5000)
    image_url: Optional[str] = Field(default=None, max_length=1000)
    link_url: Optional[str] = Field(default=None, max_length=1000)
    audience_kind: str = Field(max_length=16)  # all | verdict | letter | county | industry | advisors | list
    audience_value: Optional[str] = Field(default=None, max_length=120)
    audience_label: str = Field(default="", max_length=200)
    recipients_count: int = Field(default=0)
    chunks: int = Field(default=0)
    status: str = Field(default="queued", max_length=12, index=True)  # queued | scheduled | cancelled
    requested_for: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)  # what staff asked
    send_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)  # after quiet hours
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    cancelled_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class SavedList(SQLModel, table=True):
    """A named recipient list (LINE user ids) staff can broadcast to."""

    __tablename__ = "broadcast_lists"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=60, unique=True)
    members: list = Field(default_factory=list, sa_type=sa.JSON)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
