"""The funded-business register: businesses already helped by another programme (e.g. the
雲市集 受輔導記錄 lookup), imported by staff so a verdict can check 統編 beyond asking
(002 叁 輔導對象限制條件 1、2)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class FundedBusiness(SQLModel, table=True):
    __tablename__ = "funded_businesses"
    # One row per (統編, programme, year): re-importing the same list is a no-op.
    __table_args__ = (sa.UniqueConstraint("tax_id", "programme", "year_roc"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    tax_id: str = Field(max_length=8, index=True)  # 統一編號 (checksum-valid)
    name: Optional[str] = Field(default=None, max_length=200)
    programme: str = Field(max_length=200)  # the programme as the list names it
    year_roc: Optional[int] = None  # 民國 year; None when the list did not say
    source: Optional[str] = Field(default=None, max_length=200)  # file name it came from
    imported_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
