"""Staff-side records: one-time invite codes, redemption attempts (rate limit), one-time
dashboard login links, and display names of the team (advisors, staff)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class StaffInvite(SQLModel, table=True):
    """「/邀請 顧問」: a code valid 24 h, single use. Only its hash is stored."""

    __tablename__ = "staff_invites"
    id: Optional[int] = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)  # advisor | staff
    name: Optional[str] = Field(default=None, max_length=60)  # how the team will see the invitee
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_by: Optional[str] = Field(default=None, max_length=64)
    used_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class InviteAttempt(SQLModel, table=True):
    """Every code redemption attempt, so failed guesses can be rate-limited per LINE user."""

    __tablename__ = "staff_invite_attempts"
    __table_args__ = (sa.Index("ix_invite_attempts_user_at", "line_user_id", "at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    line_user_id: str = Field(max_length=64)
    at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    ok: bool = Field(default=False)


class StaffLoginToken(SQLModel, table=True):
    """「/登入」: a one-time dashboard login link sent to a staff member's LINE. Hash only."""

    __tablename__ = "staff_login_tokens"
    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    line_user_id: str = Field(max_length=64, index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class TeamMember(SQLModel, table=True):
    """A name for an advisor or staff member (from their invite), shown on buttons and the dashboard."""

    __tablename__ = "team_members"
    line_user_id: str = Field(max_length=64, primary_key=True)
    display_name: str = Field(max_length=60)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
