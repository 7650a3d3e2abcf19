"""Scheduled reminders: one row per (reason, occurrence[, recipient]), read by due time.

A tick reads only ``status = 'pending' AND due_at <= now`` through ``ix_reminders_due``, so its
cost grows with what is due, not with everything ever scheduled. Rows are claimed atomically
(see scheduler.service) and materialised into the outbox in the same transaction, which is what
makes delivery exactly-once across repeated ticks, restarts and concurrent scheduler processes.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class Reminder(SQLModel, table=True):
    __tablename__ = "reminders"
    __table_args__ = (
        sa.Index("ix_reminders_due", "status", "due_at"),
        sa.Index("ix_reminders_recipient_status", "recipient", "status"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    # Unique per (reason, occurrence[, recipient]): planning the same thing twice is a no-op.
    key: str = Field(max_length=200, unique=True)
    # milestone | visit_evening | visit_hour | visit_log | visit_digest | personal
    kind: str = Field(max_length=20)
    program_id: Optional[str] = Field(default=None, max_length=40)
    milestone: Optional[str] = Field(default=None, max_length=60)  # milestone code (programs.yaml)
    offset_label: Optional[str] = Field(default=None, max_length=12)  # 7d | 3d | 1d | morning
    visit_id: Optional[int] = Field(default=None, index=True)
    recipient: Optional[str] = Field(default=None, max_length=64)  # None: an audience rule decides
    payload: dict = Field(default_factory=dict, sa_type=sa.JSON)  # text key and values, audiences…
    due_at: datetime = Field(sa_type=UTCDateTime)
    # After this instant the reminder is pointless (the deadline or visit has passed).
    expires_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    # pending | sent | skipped | cancelled   (sent = materialised into the outbox)
    status: str = Field(default="pending", max_length=12)
    outcome: Optional[str] = Field(default=None, max_length=120)  # why skipped / how many recipients
    claimed_by: Optional[str] = Field(default=None, max_length=64)
    processed_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
