"""The metric registry: any domain counts what a checkpoint KPI measures.

    from checkpoints.metrics import MetricResult, register_metric

    def attendance(session, *, program, as_of) -> MetricResult:
        ...
        return MetricResult(done=87, per_company={12: 3, 15: 1}, detail="3 場")

    register_metric("activities.attendance", attendance)

``program`` is a ``checkpoints.settings.Programme`` (``.id``, ``.kpis``, ``.campaign``, ``.raw``…);
``as_of`` an aware datetime: count only what happened by then (an evidence pack for checkpoint 1
exported in August still shows the figures of 7/15). ``per_company`` maps company ids to True /
False (this company counts / does not count yet) or to a number (its contribution); None when the
metric is not about companies.

A KPI in programs.yaml whose ``metric`` nobody registered is reported as ``not_tracked`` — never
as 0. Providers register themselves when their module is imported: list the module in
``PROVIDER_MODULES`` (one line, like dialogs.registry.FLOW_MODULES). The same modules may register
evidence sections and company columns (checkpoints.evidence).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlmodel import Session

# Modules that register metrics, evidence sections and company columns (imported once, on demand).
PROVIDER_MODULES = (
    "letters.checkpoint",
    "visits.checkpoint",
    "adoption.checkpoint",
    "replacements.checkpoint",
    "activities.checkpoint",
    "assessments.checkpoint",
    "checkup.checkpoint",
    "kpis.checkpoint",
)


@dataclass(frozen=True)
class MetricResult:
    done: float | int
    per_company: dict[int, float | bool] | None = None
    detail: str | None = None


Provider = Callable[..., MetricResult]
METRICS: dict[str, Provider] = {}


def register_metric(name: str, fn: Provider) -> Provider:
    """Register ``fn(session, *, program, as_of) -> MetricResult`` under ``name`` (last one wins)."""
    METRICS[name] = fn
    return fn


def metric(name: str):
    """Decorator form of ``register_metric``."""
    def decorator(fn: Provider) -> Provider:
        return register_metric(name, fn)
    return decorator


_loaded = False


def load_providers() -> None:
    """Import every provider module once (each registers itself); a module not present is skipped."""
    global _loaded
    if _loaded:
        return
    for module in PROVIDER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name not in (module, module.partition(".")[0]):
                raise  # the module exists but something it imports does not
    _loaded = True


def evaluate(session: Session, name: str, *, program, as_of: datetime) -> MetricResult | None:
    """The metric's result, or None when no provider is registered (the KPI is not tracked)."""
    load_providers()
    provider = METRICS.get(name)
    if provider is None:
        return None
    return provider(session, program=program, as_of=as_of)
