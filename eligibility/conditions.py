"""Three-valued (Kleene) conditions over answers, as written in programs.yaml.

A condition is a mapping such as ``{field: employees, gt: 9}``, or a combinator
``{all: [...]}``, ``{any: [...]}``, ``{not: {...}}``; a plain list means ``all``.
Evaluation returns ``(True | False | None, missing_fields)``: None means "can't
tell yet" because a field has not been answered — that is what lets the chat
ask only the questions a verdict still depends on.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

MISSING = object()  # sentinel: the field was not answered

Lookup = Callable[[str], Any]

_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda v, p: v == p,
    "not_equals": lambda v, p: v != p,
    "in": lambda v, p: v in p,
    "not_in": lambda v, p: v not in p,
    "gt": lambda v, p: v > p,
    "gte": lambda v, p: v >= p,
    "lt": lambda v, p: v < p,
    "lte": lambda v, p: v <= p,
    "contains": lambda v, p: p in (v or ()),
}
OPERATORS = frozenset(_COMPARATORS)
COMBINATORS = frozenset({"all", "any", "not"})


def evaluate_condition(cond: Any, lookup: Lookup) -> tuple[bool | None, list[str]]:
    """Kleene evaluation; `missing` lists only fields that could change the result."""
    if cond is None:
        return True, []
    if isinstance(cond, list):
        cond = {"all": cond}
    if "all" in cond:
        return _all(cond["all"], lookup)
    if "any" in cond:
        return _any(cond["any"], lookup)
    if "not" in cond:
        value, missing = evaluate_condition(cond["not"], lookup)
        return (None if value is None else not value), missing
    field = cond["field"]
    value = lookup(field)
    if value is MISSING:
        return None, [field]
    for op, param in cond.items():
        if op == "field":
            continue
        try:
            if not _COMPARATORS[op](value, param):
                return False, []
        except TypeError:  # e.g. None > 9: a wrong-typed answer never satisfies
            return False, []
    return True, []


def _all(conds: Iterable[Any], lookup: Lookup) -> tuple[bool | None, list[str]]:
    missing: list[str] = []
    unknown = False
    for c in conds:
        value, miss = evaluate_condition(c, lookup)
        if value is False:
            return False, []
        if value is None:
            unknown = True
            missing.extend(m for m in miss if m not in missing)
    return (None, missing) if unknown else (True, [])


def _any(conds: Iterable[Any], lookup: Lookup) -> tuple[bool | None, list[str]]:
    missing: list[str] = []
    unknown = False
    for c in conds:
        value, miss = evaluate_condition(c, lookup)
        if value is True:
            return True, []
        if value is None:
            unknown = True
            missing.extend(m for m in miss if m not in missing)
    return (None, missing) if unknown else (False, [])


def condition_fields(cond: Any) -> list[str]:
    """Every field a condition mentions (used to validate the data at load time)."""
    if cond is None:
        return []
    if isinstance(cond, list):
        return [f for c in cond for f in condition_fields(c)]
    for key in ("all", "any"):
        if key in cond:
            return [f for c in cond[key] for f in condition_fields(c)]
    if "not" in cond:
        return condition_fields(cond["not"])
    return [cond["field"]]


def validate_condition(cond: Any, where: str) -> None:
    if cond is None:
        return
    if isinstance(cond, list):
        for c in cond:
            validate_condition(c, where)
        return
    if not isinstance(cond, dict):
        raise ValueError(f"{where}: condition must be a mapping or list, got {cond!r}")
    combinators = COMBINATORS & cond.keys()
    if combinators:
        key = next(iter(combinators))
        inner = cond[key]
        for c in (inner if isinstance(inner, list) else [inner]):
            validate_condition(c, where)
        return
    if "field" not in cond:
        raise ValueError(f"{where}: condition needs `field`: {cond!r}")
    ops = set(cond) - {"field"}
    if not ops or ops - OPERATORS:
        raise ValueError(f"{where}: unknown or missing operator in {cond!r}")
