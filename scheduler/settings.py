"""Reminder settings read from the programmes file (milestones, offsets, quiet hours, visit reminders).

Dates and times in the file are Asia/Taipei, with ROC years as seed 002 prints them
("112/03/16 17:00"). Nothing about the programme calendar is hard-coded here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import yaml

from bot.timeutil import TAIPEI
from dialogs.parsing import ROC_OFFSET

_OFFSET = re.compile(r"^(\d+)([dh])$")
_ROC_DATETIME = re.compile(r"^(\d{2,4})/(\d{1,2})/(\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")


def parse_programme_datetime(value: str) -> datetime:
    """'112/03/16 17:00' (or '2023/03/16 17:00') Taipei -> aware UTC. A bare date means 17:00,
    the closing time seed 002 uses for its deadlines."""
    match = _ROC_DATETIME.match(str(value).strip())
    if not match:
        raise ValueError(f"not a programme date: {value!r}")
    year = int(match.group(1))
    year = year + ROC_OFFSET if year < 1000 else year
    hour, minute = (int(match.group(4)), int(match.group(5))) if match.group(4) else (17, 0)
    local = datetime(year, int(match.group(2)), int(match.group(3)), hour, minute, tzinfo=TAIPEI)
    return local.astimezone(timezone.utc)


def _clock(value: str) -> time:
    hour, minute = str(value).split(":")
    return time(int(hour), int(minute))


@dataclass(frozen=True)
class QuietHours:
    """Pushes are held from ``start`` to ``end`` (Taipei); the window may cross midnight."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(TAIPEI).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, moment: datetime) -> datetime:
        """``moment`` itself when allowed, else the end of this quiet period."""
        if not self.contains(moment):
            return moment
        local = moment.astimezone(TAIPEI)
        day = local.date()
        if self.start > self.end and local.time() >= self.start:
            day += timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=TAIPEI).astimezone(timezone.utc)


@dataclass(frozen=True)
class Milestone:
    code: str
    title: str
    at: datetime | None  # aware UTC; None: date not announced yet (not scheduled)
    kind: str = "notice"  # notice, or a kind in scheduler.service.DIGEST_HANDLERS
    audience: tuple[str, ...] = ()
    offsets: tuple[str, ...] = ()
    source: str = ""
    # Other keys of the entry, for the kind's handler (a checkpoint digest's ``checkpoint``); a
    # monthly milestone's ``period`` ("2023-07": the month before its own).
    options: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class VisitReminderSettings:
    evening_before: time = time(20, 0)
    hours_before: float = 1
    log_prompt_after_minutes: int = 120


@dataclass(frozen=True)
class ProgramSchedule:
    program_id: str
    name: str
    quiet: QuietHours = field(default_factory=QuietHours)
    milestones: tuple[Milestone, ...] = ()
    days_before_time: time = time(9, 0)
    morning_time: time = time(8, 30)
    visits: VisitReminderSettings = field(default_factory=VisitReminderSettings)
    raw: dict = field(default_factory=dict, compare=False, hash=False)  # the programme's whole entry, for handlers

    def milestone(self, code: str) -> Milestone | None:
        return next((m for m in self.milestones if m.code == code), None)

    def offset_moment(self, milestone: Milestone, offset: str) -> datetime:
        """When the reminder for ``offset`` ('7d', '3d', '2h', 'morning') should go out."""
        assert milestone.at is not None
        local = milestone.at.astimezone(TAIPEI)
        if offset == "morning":
            moment = datetime.combine(local.date(), self.morning_time, tzinfo=TAIPEI)
            return min(moment, local).astimezone(timezone.utc)
        match = _OFFSET.match(offset)
        if not match:
            raise ValueError(f"unknown reminder offset {offset!r}")
        amount, unit = int(match.group(1)), match.group(2)
        if unit == "h":
            return milestone.at - timedelta(hours=amount)
        day: date = local.date() - timedelta(days=amount)
        return datetime.combine(day, self.days_before_time, tzinfo=TAIPEI).astimezone(timezone.utc)


_MILESTONE_KEYS = {"code", "title", "at", "kind", "audience", "offsets", "source", "monthly"}
_MONTH = re.compile(r"^(\d{2,4})/(\d{1,2})$")


def _month(value) -> tuple[int, int]:
    """'112/08' (or '2023/08') -> (2023, 8)."""
    match = _MONTH.match(str(value).strip())
    if not match:
        raise ValueError(f"not a programme month: {value!r} (expected 112/08)")
    year = int(match.group(1))
    return (year + ROC_OFFSET if year < 1000 else year), int(match.group(2))


def _milestone_items(item: dict) -> list[dict]:
    """A milestone entry, or for ``monthly: {day, from, until}`` one entry per month, due on
    ``day`` at 17:00 (code ``<code>_<yyyy>_<mm>``), each carrying the month before as its period."""
    monthly = item.get("monthly")
    if not monthly:
        return [item]
    year, month = _month(monthly["from"])
    end = _month(monthly["until"])
    items = []
    while (year, month) <= end:
        previous = (year, month - 1) if month > 1 else (year - 1, 12)
        items.append({**item, "code": f"{item['code']}_{year}_{month:02d}",
                      "at": f"{year}/{month:02d}/{int(monthly.get('day', 1)):02d} {monthly.get('time', '17:00')}",
                      "period": f"{previous[0]}-{previous[1]:02d}"})
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return items


def _program(program_id: str, data: dict) -> ProgramSchedule:
    quiet_data = data.get("quiet_hours") or {}
    quiet = QuietHours(_clock(quiet_data.get("start", "21:00")), _clock(quiet_data.get("end", "08:00")))
    default_offsets = tuple(str(o) for o in data.get("reminder_offsets") or ("7d", "3d", "1d", "morning"))
    milestones = []
    for entry in data.get("milestones") or ():
        for item in _milestone_items(entry):
            milestones.append(Milestone(
                code=str(item["code"]), title=str(item["title"]),
                at=parse_programme_datetime(item["at"]) if item.get("at") else None,
                kind=str(item.get("kind", "notice")),
                audience=tuple(item.get("audience") or ()),
                offsets=tuple(str(o) for o in item.get("offsets") or default_offsets),
                source=str(item.get("source", "")),
                options={k: v for k, v in item.items() if k not in _MILESTONE_KEYS}))
    times = data.get("reminder_times") or {}
    visit_data = data.get("visit_reminders") or {}
    return ProgramSchedule(
        program_id=program_id, name=str(data.get("name", program_id)), quiet=quiet,
        milestones=tuple(milestones),
        days_before_time=_clock(times.get("days_before", "09:00")),
        morning_time=_clock(times.get("morning", "08:30")),
        visits=VisitReminderSettings(
            evening_before=_clock(visit_data.get("evening_before", "20:00")),
            hours_before=float(visit_data.get("hours_before", 1)),
            log_prompt_after_minutes=int(visit_data.get("log_prompt_after_minutes", 120))),
        raw=data)


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> dict[str, ProgramSchedule]:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    return {pid: _program(pid, body or {}) for pid, body in (data.get("programs") or {}).items()}


def load_schedules(path: str | Path) -> dict[str, ProgramSchedule]:
    """Every programme's reminder settings; re-read when the file changes."""
    path = str(path)
    return _load(path, Path(path).stat().st_mtime)


def schedules_for(app_config) -> dict[str, ProgramSchedule]:
    return load_schedules(app_config["PROGRAMS_FILE"])


def default_schedule(app_config, program_id: str | None = None) -> ProgramSchedule:
    schedules = schedules_for(app_config)
    if program_id and program_id in schedules:
        return schedules[program_id]
    return schedules.get("gonghao-2023") or next(iter(schedules.values()))
