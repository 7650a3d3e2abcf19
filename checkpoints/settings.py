"""A programme's after-the-letter settings, read from programs.yaml (data, never code):

* ``checkpoints:`` — 002 附件一 肆 二 計畫查核點: number, date, the cumulative share due, and the
  numbers due for KPIs where the proposal's table says otherwise;
* ``kpis:`` — the proposal's KPI table: id, zh-TW label, unit, target, the metric that counts it;
* ``campaign.tools`` — the solution's tools (ids and the words people type for them);
* ``campaign.usage_minimum`` — the one monthly figure the unit set as 常態流量 (002 註 6);
* ``campaign.coaching_period`` — the dates a record may carry (002 捌 二 輔導期間).
"""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.timeutil import TAIPEI, to_taipei
from scheduler.settings import parse_programme_datetime
from visits.service import programs_doc

DEFAULT_PROGRAM = "gonghao-2023"


@dataclass(frozen=True)
class Checkpoint:
    number: int
    at: datetime  # aware UTC
    share: float  # cumulative share of each KPI's target due (35 % -> 0.35)
    due_overrides: dict = field(default_factory=dict)  # kpi id -> number due at this checkpoint

    @property
    def day(self) -> date:
        return to_taipei(self.at).date()


@dataclass(frozen=True)
class Kpi:
    id: str
    label: str
    target: float
    metric: str
    unit: str = ""
    evidence: str = ""
    source: str = ""
    short: str = ""  # the label in per-company lists (「訪視滿 3 次」)

    @property
    def short_label(self) -> str:
        return self.short or self.label

    def due_at(self, checkpoint: Checkpoint | None) -> float:
        """What must be done by ``checkpoint`` (None: after the last one, the whole target)."""
        if checkpoint is None:
            return self.target
        if self.id in checkpoint.due_overrides:
            return _number(checkpoint.due_overrides[self.id])
        due = self.target * checkpoint.share
        # A count of companies or sessions due is a whole number: 35 % of 60 companies is 21.
        return math.ceil(due - 1e-9) if float(self.target).is_integer() else round(due, 2)


@dataclass(frozen=True)
class Tool:
    id: str
    name: str
    aliases: tuple[str, ...] = ()

    def words(self) -> tuple[str, ...]:
        """Every way of naming it, squashed, longest first (a longer alias wins over its prefix)."""
        return tuple(sorted({squash(w) for w in (self.name, self.id, *self.aliases) if squash(w)},
                            key=len, reverse=True))


@dataclass(frozen=True)
class UsageMinimum:
    label: str  # 每月開立電子發票張數
    monthly: float
    unit: str = ""
    source: str = ""
    words: tuple[str, ...] = ()  # what owners call it in chat (「發票」): 「這個月發票開了50張」 reports it


@dataclass(frozen=True)
class Programme:
    id: str
    name: str
    short_name: str
    checkpoints: tuple[Checkpoint, ...]
    kpis: tuple[Kpi, ...]
    tools: tuple[Tool, ...]
    usage_minimum: UsageMinimum | None
    period: tuple[date, date] | None  # 輔導期間 (Taipei dates, inclusive)
    campaign: dict
    raw: dict

    def checkpoint(self, number: int) -> Checkpoint | None:
        return next((c for c in self.checkpoints if c.number == number), None)

    def next_checkpoint(self, as_of: datetime) -> Checkpoint | None:
        """The first checkpoint not yet passed at ``as_of`` (None once the last one has)."""
        return next((c for c in self.checkpoints if c.at >= as_of), None)

    def kpi(self, kpi_id: str) -> Kpi | None:
        return next((k for k in self.kpis if k.id == kpi_id), None)

    def tool(self, tool_id: str) -> Tool | None:
        return next((t for t in self.tools if t.id == tool_id), None)

    def tool_name(self, tool_id: str) -> str:
        tool = self.tool(tool_id)
        return tool.name if tool else tool_id

    def in_period(self, day: date) -> bool:
        return self.period is None or self.period[0] <= day <= self.period[1]


def squash(text: str) -> str:
    """NFKC, lower case, no spaces: how typed names are compared (「ＬＩＮＥ 官方帳號」 = 「line官方帳號」)."""
    return "".join(unicodedata.normalize("NFKC", str(text or "")).lower().split())


def _number(value) -> float:
    number = float(value)
    return int(number) if number.is_integer() else number


def parse_roc_day(value) -> date:
    """'112/04/01' (民國) or '2023/04/01' -> a Taipei date."""
    return to_taipei(parse_programme_datetime(str(value))).date()


def from_data(program_id: str, data: dict) -> Programme:
    """A programme from its programs.yaml entry (``ProgramSchedule.raw`` in scheduler handlers)."""
    campaign = dict(data.get("campaign") or {})
    checkpoints = tuple(sorted((
        Checkpoint(number=int(item["number"]), at=parse_programme_datetime(item["at"]),
                   share=float(item.get("share", 1.0)), due_overrides=dict(item.get("kpis") or {}))
        for item in data.get("checkpoints") or ()), key=lambda c: c.at))
    kpis = tuple(Kpi(id=str(item["id"]), label=str(item["label"]), target=_number(item["target"]),
                     metric=str(item["metric"]), unit=str(item.get("unit") or ""),
                     evidence=str(item.get("evidence") or ""), source=str(item.get("source") or ""),
                     short=str(item.get("short") or ""))
                 for item in data.get("kpis") or ())
    tools = tuple(Tool(id=str(item["id"]), name=str(item["name"]),
                       aliases=tuple(str(a) for a in item.get("aliases") or ()))
                  for item in campaign.get("tools") or ())
    usage = campaign.get("usage_minimum") or None
    minimum = UsageMinimum(label=str(usage["label"]), monthly=_number(usage["monthly"]),
                           unit=str(usage.get("unit") or ""), source=str(usage.get("source") or ""),
                           words=tuple(str(w) for w in usage.get("words") or ())) if usage else None
    span = campaign.get("coaching_period") or None
    period = (parse_roc_day(span["start"]), parse_roc_day(span["end"])) if span else None
    return Programme(id=program_id, name=str(data.get("name", program_id)),
                     short_name=str(data.get("short_name") or data.get("name") or program_id),
                     checkpoints=checkpoints, kpis=kpis, tools=tools, usage_minimum=minimum, period=period,
                     campaign=campaign, raw=data)


_CACHE: dict = {}


def programmes(config) -> dict[str, Programme]:
    """Every programme in PROGRAMS_FILE (parsed again only when the file changed)."""
    doc = programs_doc(config)
    cached = _CACHE.get("doc")
    if cached is None or cached[0] is not doc:
        cached = _CACHE["doc"] = (doc, {pid: from_data(pid, body or {})
                                        for pid, body in (doc.get("programs") or {}).items()})
    return cached[1]


def programme(config, program_id: str | None = None) -> Programme:
    """One programme (KeyError for an unknown id: the caller says which ids exist)."""
    found = programmes(config)
    return found[program_id or DEFAULT_PROGRAM]


def taipei_day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=TAIPEI)
