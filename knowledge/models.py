"""The FAQ's unanswered-question log (issue 4: who, what, when, best candidates; staff answer)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot.db import UTCDateTime, utc_now

STATUS_OPEN = "open"
STATUS_ANSWERED = "answered"


class UnansweredQuestion(SQLModel, table=True):
    # Counted on the staff dashboard (staff.metrics).
    __tablename__ = "unanswered_questions"
    __table_args__ = (sa.Index("ix_unanswered_status_asked", "status", "asked_at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    line_user_id: Optional[str] = Field(default=None, max_length=64, index=True)  # None: asked via the API
    question: str = Field(sa_type=sa.Text)
    asked_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    # [{"entry_id", "question", "score"}] — the engine's best guesses, to speed up the staff answer
    candidates: list = Field(default_factory=list, sa_type=sa.JSON)
    score: float = Field(default=0.0)
    program_hint: Optional[str] = Field(default=None, max_length=40)
    reason: str = Field(default="fallback", max_length=20)  # fallback | declined (「都不是」)
    status: str = Field(default=STATUS_OPEN, max_length=16)
    answer: Optional[str] = Field(default=None, sa_type=sa.Text)
    answered_by: Optional[str] = Field(default=None, max_length=64)
    answered_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    added_to_entry: Optional[str] = Field(default=None, max_length=80)  # KB entry the phrasing went to
    # When staff are (or will be) alerted about this question: one alert per person per
    # knowledge.unanswered.ALERT_WINDOW, later questions collected into the next one.
    alert_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
