"""Erasures still waiting for their last step.

An erasure asked in chat runs inside the dispatcher's transaction, and that same transaction then
queues the confirmation reply (an outbox row addressed to the person's LINE id). The reply must be
sent before its row can be pseudonymised, so the erasure is finished after delivery by
``privacy.erasure.finalise_pending`` (background thread, ``flask privacy finalise``). Only the
one-way pseudonym and the reply's idempotency key are stored here — never the LINE id."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class PrivacyErasure(SQLModel, table=True):
    __tablename__ = "privacy_erasures"
    id: Optional[int] = Field(default=None, primary_key=True)
    pseudonym: str = Field(max_length=64, index=True)
    reply_key: Optional[str] = Field(default=None, max_length=200)  # outbox idempotency key of the reply
    requested_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    finalised_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime, index=True)
