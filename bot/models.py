"""Core tables: people, roles, inbound webhook events, conversations, the outbox, the audit log."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


def _uuid() -> str:
    return uuid.uuid4().hex


def _ts(**kwargs) -> Any:
    return Field(default_factory=utc_now, sa_type=UTCDateTime, **kwargs)


def _ts_opt(**kwargs) -> Any:
    return Field(default=None, sa_type=UTCDateTime, **kwargs)


class User(SQLModel, table=True):
    """A LINE user who followed the official account. Personal data only after consent."""

    __tablename__ = "users"
    id: Optional[int] = Field(default=None, primary_key=True)
    line_user_id: str = Field(max_length=64, unique=True, index=True)
    display_name: Optional[str] = Field(default=None, max_length=200)  # stored only after consent
    is_following: bool = Field(default=True)
    followed_at: Optional[datetime] = _ts_opt()
    unfollowed_at: Optional[datetime] = _ts_opt()
    consent_version: Optional[str] = Field(default=None, max_length=32)
    consent_hash: Optional[str] = Field(default=None, max_length=64)
    consented_at: Optional[datetime] = _ts_opt()
    reminders_enabled: bool = Field(default=True)
    processing_stopped: bool = Field(default=False)  # 停止處理 (個資法 第3條): no pushes, data kept
    created_at: datetime = _ts()


class RoleGrant(SQLModel, table=True):
    __tablename__ = "role_grants"
    __table_args__ = (sa.UniqueConstraint("line_user_id", "role"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    line_user_id: str = Field(max_length=64, index=True)
    role: str = Field(max_length=16)  # "advisor" | "staff"
    granted_by: Optional[str] = Field(default=None, max_length=64)
    granted_at: datetime = _ts()


class InboundEvent(SQLModel, table=True):
    """Every accepted webhook event, keyed by webhookEventId so each takes effect once."""

    __tablename__ = "inbound_events"
    __table_args__ = (sa.Index("ix_inbound_status_received", "status", "received_at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    webhook_event_id: str = Field(max_length=64, unique=True)
    event_type: str = Field(max_length=40)
    line_user_id: Optional[str] = Field(default=None, max_length=64, index=True)
    payload: dict = Field(default_factory=dict, sa_type=sa.JSON)
    is_redelivery: bool = Field(default=False)
    status: str = Field(default="pending", max_length=12)  # pending | processing | done | failed
    attempts: int = Field(default=0)
    received_at: datetime = _ts()
    claimed_at: Optional[datetime] = _ts_opt()
    processed_at: Optional[datetime] = _ts_opt()
    error: Optional[str] = Field(default=None, max_length=500)


class Conversation(SQLModel, table=True):
    """The dialog state of one user: which flow and step, and the answers so far."""

    __tablename__ = "conversations"
    line_user_id: str = Field(max_length=64, primary_key=True)
    flow: Optional[str] = Field(default=None, max_length=40)
    step: Optional[str] = Field(default=None, max_length=40)
    session_id: Optional[str] = Field(default=None, max_length=16)
    data: dict = Field(default_factory=dict, sa_type=sa.JSON)
    history: list = Field(default_factory=list, sa_type=sa.JSON)
    memory: dict = Field(default_factory=dict, sa_type=sa.JSON)  # e.g. last FAQ topic, paused flow
    started_at: Optional[datetime] = _ts_opt()
    updated_at: datetime = _ts()


class OutboundMessage(SQLModel, table=True):
    """The outbox: everything sent to LINE is a row first, sent after the commit that made it."""

    __tablename__ = "outbound_messages"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=12)  # reply | push | multicast | broadcast
    recipient: Optional[str] = Field(default=None, max_length=64, index=True)  # push / reply
    recipients: Optional[list] = Field(default=None, sa_type=sa.JSON)  # multicast (<= 500)
    reply_token: Optional[str] = Field(default=None, max_length=200)
    reply_token_received_at: Optional[datetime] = _ts_opt()
    messages: list = Field(default_factory=list, sa_type=sa.JSON)  # LINE message objects (<= 5)
    retry_key: str = Field(default_factory=lambda: str(uuid.uuid4()), max_length=36)
    status: str = Field(default="pending", max_length=12)  # pending | sending | sent | dead | cancelled
    attempts: int = Field(default=0)
    ambiguous_reply: bool = Field(default=False)  # a reply attempt whose outcome is unknown
    next_attempt_at: datetime = _ts()
    last_error: Optional[str] = Field(default=None, max_length=500)
    origin: Optional[str] = Field(default=None, max_length=120)  # e.g. "event:<id>", "reminder:<id>"
    created_at: datetime = _ts()
    sent_at: Optional[datetime] = _ts_opt()
    sent_as: Optional[str] = Field(default=None, max_length=12)  # reply | push | multicast | broadcast


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor: Optional[str] = Field(default=None, max_length=64)  # LINE user id, "cli", "staff-token"
    action: str = Field(max_length=60)
    target: Optional[str] = Field(default=None, max_length=120)
    detail: dict = Field(default_factory=dict, sa_type=sa.JSON)
