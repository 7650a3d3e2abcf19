"""A company recruited into a programme, the LINE users who speak for it, and requests to join it."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class Company(SQLModel, table=True):
    __tablename__ = "companies"
    id: Optional[int] = Field(default=None, primary_key=True)
    program_id: str = Field(default="gonghao-2023", max_length=40, index=True)
    tax_id: Optional[str] = Field(default=None, max_length=8, unique=True)  # 統一編號 (None: 稅籍 only, unknown)
    name: Optional[str] = Field(default=None, max_length=200)
    county: Optional[str] = Field(default=None, max_length=20, index=True)  # 縣市
    township: Optional[str] = Field(default=None, max_length=20)  # 鄉鎮市區
    industry: Optional[str] = Field(default=None, max_length=60, index=True)
    main_product: Optional[str] = Field(default=None, max_length=200)  # 主要服務/產品
    registration: Optional[str] = Field(default=None, max_length=12)  # company | business | tax_only | none
    employees: Optional[int] = None
    track: Optional[str] = Field(default=None, max_length=20)  # popularization | integration
    answers: dict = Field(default_factory=dict, sa_type=sa.JSON)  # the eligibility answers as given
    verdict: Optional[str] = Field(default=None, max_length=16, index=True)  # eligible | ineligible | needs_review
    verdict_reasons: list = Field(default_factory=list, sa_type=sa.JSON)
    verdict_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    # Denormalised status other domains filter on (reminder audiences, broadcast segments).
    letter_status: str = Field(default="none", max_length=12, index=True)  # none | signed | withdrawn
    tool_adopted_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)  # cloud tool confirmed in use
    advisor_line_user_id: Optional[str] = Field(default=None, max_length=64, index=True)
    status: str = Field(default="active", max_length=12)  # active | withdrawn | replaced
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class CompanyMember(SQLModel, table=True):
    """A LINE user who speaks for a company: the account that first registered it, or one a member
    (or staff) approved. One company, many users; role "owner" for both (see companies/service.py)."""

    __tablename__ = "company_members"
    __table_args__ = (sa.UniqueConstraint("company_id", "line_user_id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="companies.id", index=True)
    line_user_id: str = Field(max_length=64, index=True)
    role: str = Field(default="owner", max_length=12)  # owner | contact
    linked_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class CompanyJoinRequest(SQLModel, table=True):
    """A LINE user asking to speak for a company another account registered (they typed its 統編
    in the eligibility check). It is *not* a membership: everything that resolves "the user's
    company" joins CompanyMember, which only a current member's (or staff's) approval creates.
    The requester's own answers stay here, never on the company."""

    __tablename__ = "company_join_requests"
    # One open request per person and company (a double tap or a redelivery cannot file two).
    __table_args__ = (sa.Index("uq_company_join_requests_pending", "company_id", "line_user_id", unique=True,
                               sqlite_where=sa.text("status = 'pending'"),
                               postgresql_where=sa.text("status = 'pending'")),)
    id: Optional[int] = Field(default=None, primary_key=True)
    company_id: int = Field(foreign_key="companies.id", index=True)
    line_user_id: str = Field(max_length=64, index=True)  # the requester
    tax_id: Optional[str] = Field(default=None, max_length=8)  # as the requester typed it
    answers: dict = Field(default_factory=dict, sa_type=sa.JSON)  # the requester's own intake answers
    status: str = Field(default="pending", max_length=12, index=True)  # pending | approved | declined
    requested_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    decided_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    decided_by: Optional[str] = Field(default=None, max_length=64)  # a member's LINE id, a staff id, "staff-token", "cli"
    decided_via: Optional[str] = Field(default=None, max_length=12)  # chat | dashboard | cli
