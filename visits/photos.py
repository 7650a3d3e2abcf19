"""Photos attached to a logged visit (輔導紀錄單 needs 輔導照片). Own table: the shared Visit keeps
only references ("photo:<id>") in Visit.photos."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now


class VisitPhoto(SQLModel, table=True):
    __tablename__ = "visit_photos"
    id: Optional[int] = Field(default=None, primary_key=True)
    visit_id: int = Field(foreign_key="visits.id", index=True)
    message_id: str = Field(max_length=64, unique=True)  # LINE message id: one image attached once
    mime: str = Field(default="image/jpeg", max_length=40)
    size: int = Field(default=0)
    data: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


def sniff_mime(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"GIF8":
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"
