"""Generic rule kinds. programs.yaml picks a kind per rule and gives its parameters.

Each checker returns either a list of `Violation`s (empty = the rule passes) or an
`Undecided` naming the answers it still needs. Outcome, code and message come
from the data; a checker only supplies the numbers that go into the message.
Adding a programme year = editing YAML; adding a *kind* of rule = a function here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Mapping

from .conditions import MISSING, Lookup, compiled, evaluate_condition, validate_condition


@dataclass
class Violation:
    values: dict[str, Any] = field(default_factory=dict)  # message placeholders
    item: Mapping[str, Any] | None = None  # per-item overrides (forbidden_any)
    variant: str | None = None  # e.g. "inconsistent": use inconsistent_* keys


@dataclass
class Undecided:
    missing: list[str]


Result = list[Violation] | Undecided


def _percent(share: Fraction) -> str:
    text = f"{float(share) * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _threshold(value: Any) -> Fraction:
    # Fraction(str(0.7)) == 7/10 exactly, so 14/20 compares equal to 70 %.
    return Fraction(str(value))


# --- single-business kinds ---------------------------------------------------

def check_allowed_values(rule: Mapping, lookup: Lookup) -> Result:
    value = lookup(rule["field"])
    if value is MISSING:
        return Undecided([rule["field"]])
    if value in rule["values"]:
        return []
    return [Violation({"value": value})]


def check_max_count(rule: Mapping, lookup: Lookup) -> Result:
    value = lookup(rule["field"])
    if value is MISSING or not isinstance(value, (int, float)) or isinstance(value, bool):
        return Undecided([rule["field"]])  # unparsed chat text is "not answered yet"
    if value <= rule["max"]:  # limits in the seeds are inclusive: "9人(含)以下"
        return []
    return [Violation({"value": value, "max": rule["max"]})]


def check_min_value(rule: Mapping, lookup: Lookup) -> Result:
    value = lookup(rule["field"])
    if value is MISSING or not isinstance(value, (int, float)) or isinstance(value, bool):
        return Undecided([rule["field"]])
    if value >= rule["min"]:
        return []
    return [Violation({"value": value, "min": rule["min"]})]


def check_forbidden_any(rule: Mapping, lookup: Lookup) -> Result:
    value = lookup(rule["field"])
    if value is MISSING:
        return Undecided([rule["field"]])
    items = rule["items"]
    keys = [value] if isinstance(value, str) else list(dict.fromkeys(value or []))
    return [Violation({"value": key, "label": items[key].get("label", key)}, item=items[key])
            for key in keys if key in items]


def check_requires_if(rule: Mapping, lookup: Lookup) -> Result:
    # violated = when AND NOT require, in Kleene logic (False wins over unknown)
    applies, when_missing = evaluate_condition(rule.get("when"), lookup)
    if applies is False:
        return []
    satisfied, require_missing = evaluate_condition(rule["require"], lookup)
    if satisfied is True:
        return []
    if applies is None or satisfied is None:
        return Undecided(when_missing + [m for m in require_missing if m not in when_missing])
    return [Violation()]


# --- roster (collection) kinds -----------------------------------------------

def _members(rule: Mapping, lookup: Lookup) -> list[Mapping] | Undecided:
    members = lookup(rule["collection"])
    if members is MISSING:
        return Undecided([rule["collection"]])
    return list(members or [])


def _member_lookup(member: Mapping, defaults: Mapping[str, Any]) -> Lookup:
    def lookup(name: str) -> Any:
        if name in member and member[name] is not None:
            return member[name]
        return defaults.get(name, MISSING)
    return lookup


def _count_where(rule: Mapping, members: list[Mapping], cond: Any,
                 defaults: Mapping) -> tuple[int, list[Mapping]] | Undecided:
    matched = []
    test = compiled(cond)
    for m in members:
        value, _ = test(_member_lookup(m, defaults))
        if value is None:
            return Undecided([rule["collection"]])
        if value:
            matched.append(m)
    return len(matched), matched


def _names(members: list[Mapping]) -> str:
    return "、".join(str(m.get("name") or m.get("tax_id") or "?") for m in members)


def _norm_key(value: Any) -> str | None:
    if value is None:
        return None
    text = "".join(str(value).split())
    return text or None


def distinct_count(members: list[Mapping], keys: list[str]) -> int:
    """Members left after dropping any that repeat an earlier member's key
    (003 ※2: the same owner counts as one business)."""
    seen: dict[str, set[str]] = {k: set() for k in keys}
    count = 0
    for m in members:
        normalised = {k: _norm_key(m.get(k)) for k in keys}
        if any(v is not None and v in seen[k] for k, v in normalised.items()):
            continue
        for k, v in normalised.items():
            if v is not None:
                seen[k].add(v)
        count += 1
    return count


def check_min_count(rule: Mapping, lookup: Lookup, defaults: Mapping) -> Result:
    members = _members(rule, lookup)
    if isinstance(members, Undecided):
        return members
    keys = rule.get("distinct_by") or []
    count = distinct_count(members, keys) if keys else len(members)
    if count >= rule["min"]:  # "至少(含)N家"
        return []
    return [Violation({"count": count, "min": rule["min"]})]


def _share(rule: Mapping, lookup: Lookup, defaults: Mapping):
    members = _members(rule, lookup)
    if isinstance(members, Undecided):
        return members
    if not members:
        return None  # nothing to share; min_count reports the empty roster
    counted = _count_where(rule, members, rule["where"], defaults)
    if isinstance(counted, Undecided):
        return counted
    count, _ = counted
    return count, len(members), Fraction(count, len(members))


def _share_violations(share: Fraction, rule: Mapping, *, at_most: bool, values: dict) -> list[Violation]:
    """[] when ``share`` is within the rule's ``max`` (at_most) or ``min`` bound, else the violation
    with share and limit as percentages. Bounds are inclusive unless ``inclusive: false``."""
    limit = _threshold(rule["max"] if at_most else rule["min"])
    inclusive = rule.get("inclusive", True)
    if at_most:
        ok = share <= limit if inclusive else share < limit
    else:
        ok = share >= limit if inclusive else share > limit
    if ok:
        return []
    return [Violation({**values, "share": _percent(share), "limit": _percent(limit)})]


def _check_share(rule: Mapping, lookup: Lookup, defaults: Mapping, *, at_most: bool) -> Result:
    got = _share(rule, lookup, defaults)
    if got is None or isinstance(got, Undecided):
        return got or []
    count, total, share = got
    return _share_violations(share, rule, at_most=at_most, values={"count": count, "total": total})


def check_share_at_least(rule: Mapping, lookup: Lookup, defaults: Mapping) -> Result:
    return _check_share(rule, lookup, defaults, at_most=False)


def check_share_at_most(rule: Mapping, lookup: Lookup, defaults: Mapping) -> Result:
    return _check_share(rule, lookup, defaults, at_most=True)


def check_each_member(rule: Mapping, lookup: Lookup, defaults: Mapping) -> Result:
    members = _members(rule, lookup)
    if isinstance(members, Undecided):
        return members
    offenders = []
    where = compiled(rule["where"]) if rule.get("where") is not None else None
    require = compiled(rule["require"])
    for m in members:
        mlookup = _member_lookup(m, defaults)
        applies = where(mlookup)[0] if where else True
        ok = require(mlookup)[0] if applies is not False else True
        if applies is None or (applies and ok is None):
            return Undecided([rule["collection"]])
        if applies and not ok:
            offenders.append(m)
    if not offenders:
        return []
    return [Violation({"count": len(offenders), "names": _names(offenders)})]


def check_unique_by(rule: Mapping, lookup: Lookup, defaults: Mapping) -> Result:
    members = _members(rule, lookup)
    if isinstance(members, Undecided):
        return members
    groups: dict[str, list[Mapping]] = {}
    for m in members:
        key = _norm_key(m.get(rule["key"]))
        if key is not None:
            groups.setdefault(key, []).append(m)
    dupes = {k: g for k, g in groups.items() if len(g) > 1}
    if not dupes:
        return []
    names = "；".join(f"{k}：{_names(g)}" for k, g in dupes.items())
    return [Violation({"count": len(dupes), "names": names})]


def check_replaced_share_at_most(rule: Mapping, lookup: Lookup, defaults: Mapping) -> Result:
    baseline = lookup(rule["baseline_field"])
    members = _members(rule, lookup)
    missing = ([rule["baseline_field"]] if baseline is MISSING else []) + (
        members.missing if isinstance(members, Undecided) else [])
    if missing:
        return Undecided(missing)
    counted = _count_where(rule, members, rule["kept_where"], defaults)
    if isinstance(counted, Undecided):
        return counted
    kept, _ = counted
    values = {"baseline": baseline, "kept": kept}
    if baseline <= 0 or kept > baseline:
        return [Violation(values, variant="inconsistent")]
    replaced = baseline - kept  # 000: 更換比例 counts old members only, not additions
    return _share_violations(Fraction(replaced, baseline), rule, at_most=True,
                             values={**values, "replaced": replaced})


@dataclass(frozen=True)
class Kind:
    check: Callable[..., Result]
    params: tuple[str, ...]
    roster: bool = False  # checker also receives the member-field defaults


KINDS: dict[str, Kind] = {
    "allowed_values": Kind(check_allowed_values, ("field", "values")),
    "max_count": Kind(check_max_count, ("field", "max")),
    "min_value": Kind(check_min_value, ("field", "min")),
    "forbidden_any": Kind(check_forbidden_any, ("field", "items")),
    "requires_if": Kind(check_requires_if, ("require",)),
    "min_count": Kind(check_min_count, ("collection", "min"), roster=True),
    "share_at_least": Kind(check_share_at_least, ("collection", "where", "min"), roster=True),
    "share_at_most": Kind(check_share_at_most, ("collection", "where", "max"), roster=True),
    "each_member": Kind(check_each_member, ("collection", "require"), roster=True),
    "unique_by": Kind(check_unique_by, ("collection", "key"), roster=True),
    "replaced_share_at_most": Kind(
        check_replaced_share_at_most,
        ("collection", "baseline_field", "kept_where", "max"), roster=True),
}


def validate_rule_params(rule: Mapping, where: str) -> None:
    kind = KINDS.get(rule.get("kind"))
    if kind is None:
        raise ValueError(f"{where}: unknown rule kind {rule.get('kind')!r}; known: {sorted(KINDS)}")
    absent = [p for p in kind.params if p not in rule]
    if absent:
        raise ValueError(f"{where}: kind {rule['kind']} needs {absent}")
    for key in ("when", "require", "where", "kept_where"):
        if key in rule:
            validate_condition(rule[key], f"{where}.{key}")
