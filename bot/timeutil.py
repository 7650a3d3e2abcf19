"""Asia/Taipei clock helpers. All business dates are Taipei time; the DB stores aware UTC."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_taipei(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(TAIPEI)


def roc_year(year: int) -> int:
    """民國 year = AD - 1911."""
    return year - 1911


def format_roc_date(day: date | datetime) -> str:
    """112/03/10, the way Taiwanese forms print dates."""
    if isinstance(day, datetime):
        day = to_taipei(day).date()
    return f"{roc_year(day.year)}/{day.month:02d}/{day.day:02d}"


def format_roc_datetime(moment: datetime) -> str:
    local = to_taipei(moment)
    return f"{format_roc_date(local.date())} {local:%H:%M}"
