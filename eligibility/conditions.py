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


Compiled = Callable[[Lookup], tuple[bool | None, list[str]]]
_COMPILED: dict[int, tuple[Any, Compiled]] = {}


def evaluate_condition(cond: Any, lookup: Lookup) -> tuple[bool | None, list[str]]:
    """Kleene evaluation; `missing` lists only fields that could change the result.
    Conditions come from the loaded YAML and live as long as the programme, so they
    are compiled to closures once (a decision must stay well under 1 ms)."""
    if cond is None:
        return True, []
    return compiled(cond)(lookup)


def compiled(cond: Any) -> Compiled:
    """The closure for a (long-lived) condition, built once."""
    cached = _COMPILED.get(id(cond))
    if cached is None or cached[0] is not cond:
        cached = (cond, compile_condition(cond))  # keeps cond alive: its id stays unique
        _COMPILED[id(cond)] = cached
    return cached[1]


def compile_condition(cond: Any) -> Compiled:
    if cond is None:
        return lambda lookup: (True, [])
    if isinstance(cond, list):
        cond = {"all": cond}
    if "all" in cond:
        parts = [compile_condition(c) for c in cond["all"]]
        return lambda lookup: _all(parts, lookup)
    if "any" in cond:
        parts = [compile_condition(c) for c in cond["any"]]
        return lambda lookup: _any(parts, lookup)
    if "not" in cond:
        inner = compile_condition(cond["not"])

        def negate(lookup: Lookup) -> tuple[bool | None, list[str]]:
            value, missing = inner(lookup)
            return (None if value is None else not value), missing
        return negate
    field = cond["field"]
    checks = [(_COMPARATORS[op], param) for op, param in cond.items() if op != "field"]

    def leaf(lookup: Lookup) -> tuple[bool | None, list[str]]:
        value = lookup(field)
        if value is MISSING:
            return None, [field]
        for compare, param in checks:
            try:
                if not compare(value, param):
                    return False, []
            except TypeError:  # e.g. None > 9: a wrong-typed answer never satisfies
                return False, []
        return True, []
    return leaf


def _combine(parts: Iterable[Compiled], lookup: Lookup, *, decisive: bool) -> tuple[bool | None, list[str]]:
    """Three-valued AND (decisive=False) / OR (decisive=True): a part equal to ``decisive``
    settles it; otherwise unknown parts make the result unknown, listing the missing fields."""
    missing: list[str] = []
    unknown = False
    for part in parts:
        value, miss = part(lookup)
        if value is decisive:
            return decisive, []
        if value is None:
            unknown = True
            missing.extend(m for m in miss if m not in missing)
    return (None, missing) if unknown else (not decisive, [])


def _all(parts: Iterable[Compiled], lookup: Lookup) -> tuple[bool | None, list[str]]:
    return _combine(parts, lookup, decisive=False)


def _any(parts: Iterable[Compiled], lookup: Lookup) -> tuple[bool | None, list[str]]:
    return _combine(parts, lookup, decisive=True)


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
