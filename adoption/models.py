"""Tool adoption and normal use (常態流量), after the letter of intent.

* ``ToolAdoption``: an advisor (or staff) records that a company started using one of the
  campaign's tools (programs.yaml ``campaign.tools``); the owner's answer is the evidence
  (002 叁 雲端服務條件 1: 最遲須於 112/7/31 前完成導入). ``Company.tool_adopted_at`` follows the
  first confirmed one.
* ``UsageReport``: the one figure per company and month the unit set as its usage minimum
  (``campaign.usage_minimum``; 002 註 6), with screenshots (``UsageScreenshot``) as the proof.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now

OPEN = ("pending", "confirmed")  # an adoption in one of these states blocks a second record


class ToolAdoption(SQLModel, table=True):
    __tablename__ = "tool_adoptions"
    __table_args__ = (
        # One open record per company and tool, even when two advisors send it at once; a declined
        # one ("還沒") may be recorded again later.
        sa.Index("uq_tool_adoptions_open", "company_id", "tool_id", unique=True,
                 sqlite_where=sa.text("status IN ('pending', 'confirmed')"),
                 postgresql_where=sa.text("status IN ('pending', 'confirmed')")),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    program_id: str = Field(max_length=40, index=True)
    company_id: int = Field(foreign_key="companies.id", index=True)
    tool_id: str = Field(max_length=40)  # campaign.tools[].id
    started_on: date  # the day the company started using it (Taipei)
    status: str = Field(default="pending", max_length=12)  # pending | confirmed | declined
    via: str = Field(default="chat", max_length=12)  # chat | visit (from a visit card)
    recorded_by: str = Field(max_length=64)  # the advisor's (or staff's) LINE user id
    recorded_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    answered_by: Optional[str] = Field(default=None, max_length=64)  # the owner who confirmed or declined
    answered_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)


class UsageReport(SQLModel, table=True):
    __tablename__ = "usage_reports"
    __table_args__ = (sa.UniqueConstraint("company_id", "period"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    program_id: str = Field(max_length=40, index=True)
    company_id: int = Field(foreign_key="companies.id", index=True)
    period: str = Field(max_length=7)  # the month reported, "2023-07"
    figure: Optional[float] = None  # None: only a screenshot so far
    minimum: Optional[float] = None  # the usage minimum when reported (campaign data may change)
    reported_by: str = Field(max_length=64)
    reported_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    flagged_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)  # below minimum: told advisor+staff

    @property
    def meets_minimum(self) -> bool | None:
        if self.figure is None or self.minimum is None:
            return None
        return self.figure >= self.minimum


class UsageScreenshot(SQLModel, table=True):
    """A screenshot of the tool's usage records (系統截圖), stored like visit photos."""

    __tablename__ = "usage_screenshots"
    id: Optional[int] = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="usage_reports.id", index=True)
    message_id: str = Field(max_length=64, unique=True)  # LINE message id: stored once
    mime: str = Field(default="image/jpeg", max_length=40)
    size: int = Field(default=0)
    data: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
