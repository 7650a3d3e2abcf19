"""Custom KPIs as campaign data (programs.yaml ``campaign.custom_kpis``; 002 叁 自訂績效指標): the
indicators, grouped by 面向, with the questions owners are asked, the unit they answer in, how
the companies' figures make the KPI and the largest believable figure. Nothing here is hard-coded."""
from __future__ import annotations

from dataclasses import dataclass, field

AGGREGATES = ("growth", "reduction", "latest")
BASELINE = "baseline"


@dataclass(frozen=True)
class Indicator:
    id: str  # the checkpoint metric is custom.<id>
    aspect: str  # key of ``aspects``
    aspect_name: str  # 營運面
    name: str  # 營業額
    ask: str
    baseline_ask: str
    unit: str  # what owners type (元)
    aggregate: str = "growth"
    per_kpi_unit: float = 1  # typed units in one unit of the KPI (1000 元 = 1 千元)
    max: float = 1e9
    units: dict = field(default_factory=dict, compare=False, hash=False)  # extra words -> multiplier
    words: tuple[str, ...] = ()  # what owners call it in chat (「來客」「營收」); the name counts too

    @property
    def metric(self) -> str:
        return f"custom.{self.id}"


def parse_indicators(campaign: dict | None) -> tuple[Indicator, ...]:
    data = (campaign or {}).get("custom_kpis") or {}
    aspects = {str(k): str(v) for k, v in (data.get("aspects") or {}).items()}
    found = []
    for item in data.get("indicators") or ():
        aggregate = str(item.get("aggregate") or "growth")
        if aggregate not in AGGREGATES:
            raise ValueError(f"custom_kpis {item.get('id')}: aggregate must be one of {AGGREGATES}")
        aspect = str(item["aspect"])
        found.append(Indicator(
            id=str(item["id"]), aspect=aspect, aspect_name=aspects.get(aspect, aspect), name=str(item["name"]),
            ask=str(item["ask"]), baseline_ask=str(item.get("baseline_ask") or item["ask"]), unit=str(item.get("unit") or ""),
            aggregate=aggregate, per_kpi_unit=float(item.get("per_kpi_unit") or 1), max=float(item.get("max") or 1e9),
            units={str(k): float(v) for k, v in (item.get("units") or {}).items()},
            words=tuple(str(w) for w in item.get("words") or ())))
    return tuple(found)


def indicators_of(config, program_id: str | None) -> tuple[Indicator, ...]:
    from checkpoints.settings import DEFAULT_PROGRAM, programmes

    program = programmes(config).get(program_id or DEFAULT_PROGRAM)
    return parse_indicators(program.campaign) if program else ()
