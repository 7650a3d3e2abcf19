"""Activity settings from programs.yaml ``campaign.activities`` (data, never code): the kinds of
activity the programme counts (002 叁 基本工作項目 3–5), the check-in window, the reminders."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from visits.service import programs_doc

DEFAULT_PROGRAM = "gonghao-2023"
DEFAULT_KINDS = {"workshop": "知能活動", "showcase": "成果展示"}


@dataclass(frozen=True)
class ActivitySettings:
    program_id: str
    kinds: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_KINDS))  # id -> zh-TW label
    opens_before: timedelta = timedelta(minutes=60)
    closes_after_start: timedelta = timedelta(minutes=60)
    walk_in: bool = True
    day_before_at: time = time(10, 0)
    hours_before: float = 1
    default_duration: timedelta = timedelta(minutes=120)

    def kind_label(self, kind: str) -> str:
        return self.kinds.get(kind, kind)

    def checkin_window(self, starts_at: datetime) -> tuple[datetime, datetime]:
        """(opens, closes) of LINE check-in for an activity starting at ``starts_at``."""
        return starts_at - self.opens_before, starts_at + self.closes_after_start


def _clock(value) -> time:
    hour, minute = str(value).split(":")
    return time(int(hour), int(minute))


def parse(program_id: str, raw: dict | None) -> ActivitySettings:
    raw = raw or {}
    checkin = raw.get("checkin") or {}
    reminders = raw.get("reminders") or {}
    return ActivitySettings(
        program_id=program_id,
        kinds={str(k): str(v) for k, v in (raw.get("kinds") or DEFAULT_KINDS).items()},
        opens_before=timedelta(minutes=int(checkin.get("opens_before_minutes", 60))),
        closes_after_start=timedelta(minutes=int(checkin.get("closes_after_start_minutes", 60))),
        walk_in=bool(checkin.get("walk_in", True)),
        day_before_at=_clock(reminders.get("day_before_at", "10:00")),
        hours_before=float(reminders.get("hours_before", 1)),
        default_duration=timedelta(minutes=int(raw.get("default_duration_minutes", 120))))


def activity_settings(config, program_id: str | None = None) -> ActivitySettings:
    program_id = program_id or DEFAULT_PROGRAM
    body = (programs_doc(config).get("programs") or {}).get(program_id) or {}
    return parse(program_id, (body.get("campaign") or {}).get("activities"))
