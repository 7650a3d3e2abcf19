"""Eligibility engine: pure Python, no Flask, no database.

`evaluate` gives the verdict for complete answers (API); `early_verdict` and
`next_needed_field` work on partial answers so the chat asks only what the
verdict still depends on and stops as soon as nothing can change it.
Rules are data (programs.yaml); the kinds live in kinds.py.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .conditions import MISSING, evaluate_condition
from .kinds import KINDS, Undecided, validate_rule_params

INELIGIBLE, NEEDS_REVIEW, ELIGIBLE, INFO = "ineligible", "needs_review", "eligible", "info"
OUTCOMES = (INELIGIBLE, NEEDS_REVIEW, INFO)
_SEVERITY = {INFO: 0, NEEDS_REVIEW: 1, INELIGIBLE: 2}


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "source": self.source}


@dataclass(frozen=True)
class Verdict:
    verdict: str  # "eligible" | "ineligible" | "needs_review"
    reasons: list[Reason] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": [r.to_dict() for r in self.reasons]}


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str
    outcome: Any  # str, or {by: FIELD, values: {...}, default: str}
    message: str
    source: str
    spec: Mapping[str, Any]  # the whole YAML mapping (kind parameters included)

    def possible_outcomes(self) -> set[str]:
        found = _outcomes_of(self.outcome)
        for item in (self.spec.get("items") or {}).values():
            if "outcome" in item:
                found |= _outcomes_of(item["outcome"])
        if "inconsistent_outcome" in self.spec:
            found.add(self.spec["inconsistent_outcome"])
        return found


@dataclass(frozen=True)
class ProgramRules:
    id: str
    name: str
    short_name: str
    year_roc: int | None
    seed: str
    fields: Mapping[str, Mapping[str, Any]]  # answer fields, in asking order
    rules: tuple[Rule, ...]
    data: Mapping[str, Any]  # the programme's whole YAML (milestones, campaign…)

    def field_label(self, name: str) -> str:
        return str(self.fields.get(name, {}).get("label", name))

    def member_defaults(self) -> dict[str, Any]:
        for spec in self.fields.values():
            if spec.get("type") == "roster":
                return {k: v["default"] for k, v in (spec.get("member_fields") or {}).items()
                        if "default" in v}
        return {}

    def with_defaults(self, answers: Mapping[str, Any]) -> dict[str, Any]:
        filled = dict(answers)
        for name, spec in self.fields.items():
            if filled.get(name) is None and "default" in spec:
                filled[name] = copy.deepcopy(spec["default"])
        return filled


# --- loading -------------------------------------------------------------------

def _outcomes_of(spec: Any) -> set[str]:
    if isinstance(spec, Mapping):
        found = set(spec.get("values", {}).values())
        if "default" in spec:
            found.add(spec["default"])
        return found
    return {spec}


def _build_rule(raw: Mapping[str, Any], where: str) -> Rule:
    for key in ("code", "kind", "source", "outcome"):
        if key not in raw:
            raise ValueError(f"{where}: rule needs `{key}`")
    if raw["kind"] != "forbidden_any" and "message" not in raw:
        raise ValueError(f"{where}: rule needs `message`")
    validate_rule_params(raw, where)
    rule = Rule(code=raw["code"], kind=raw["kind"], outcome=raw["outcome"],
                message=raw.get("message", ""), source=raw["source"], spec=raw)
    bad = rule.possible_outcomes() - set(OUTCOMES)
    if bad:
        raise ValueError(f"{where}: unknown outcome(s) {sorted(bad)}")
    return rule


def build_program(program_id: str, raw: Mapping[str, Any]) -> ProgramRules:
    elig = raw.get("eligibility") or {}
    rules = tuple(_build_rule(r, f"{program_id}.rules[{i}]")
                  for i, r in enumerate(elig.get("rules") or []))
    codes = [r.code for r in rules]
    if len(codes) != len(set(codes)):
        raise ValueError(f"{program_id}: rule codes must be unique")
    return ProgramRules(
        id=program_id, name=raw.get("name", program_id),
        short_name=raw.get("short_name", raw.get("name", program_id)),
        year_roc=raw.get("year_roc"), seed=str(raw.get("seed", "")),
        fields=dict(elig.get("fields") or {}), rules=rules, data=raw)


def load_programs(path: str | Path) -> dict[str, ProgramRules]:
    """Read programs.yaml and check every rule against the known kinds (fail fast)."""
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    return {pid: build_program(pid, raw) for pid, raw in (doc.get("programs") or {}).items()}


# --- evaluation -------------------------------------------------------------------

@dataclass
class _Pending:
    rule: Rule
    missing: list[str]
    outcomes: set[str]


class _SafeFormat(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _resolve_outcome(spec: Any, lookup) -> tuple[str | None, list[str]]:
    if not isinstance(spec, Mapping):
        return spec, []
    by = spec["by"]
    value = lookup(by)
    if value is MISSING:
        options = _outcomes_of(spec)
        return (next(iter(options)), []) if len(options) == 1 else (None, [by])
    return spec.get("values", {}).get(value, spec.get("default", INELIGIBLE)), []


def _finding(rule: Rule, violation, outcome: str) -> Reason:
    spec, item = rule.spec, violation.item or {}
    if violation.variant:
        code = spec.get(f"{violation.variant}_code", rule.code)
        message = spec.get(f"{violation.variant}_message", rule.message)
    else:
        code = item.get("code") or spec.get("codes_by_outcome", {}).get(outcome, rule.code)
        message = item.get("message") or spec.get("messages_by_outcome", {}).get(
            outcome, rule.message)
    source = item.get("source") or rule.source
    return Reason(code=code, message=message.format_map(_SafeFormat(violation.values)),
                  source=source)


def _run(program: ProgramRules, answers: Mapping[str, Any]):
    """Every rule on (possibly partial) answers -> (findings by outcome, pending rules)."""
    def lookup(name: str) -> Any:
        value = answers.get(name, MISSING)
        return MISSING if value is None else value

    defaults = program.member_defaults()
    found: list[tuple[str, Reason]] = []
    pending: list[_Pending] = []
    for rule in program.rules:
        applies, when_missing = evaluate_condition(rule.spec.get("when"), lookup)
        if applies is False:
            continue
        kind = KINDS[rule.kind]
        result = kind.check(rule.spec, lookup, defaults) if kind.roster else kind.check(
            rule.spec, lookup)
        if isinstance(result, Undecided):
            pending.append(_Pending(rule, when_missing + result.missing, rule.possible_outcomes()))
            continue
        if not result:
            continue  # passes whether or not the rule applies
        if applies is None:
            pending.append(_Pending(rule, when_missing, rule.possible_outcomes()))
            continue
        for violation in result:
            outcome_spec = (violation.item or {}).get("outcome", rule.outcome)
            if violation.variant:
                outcome_spec = rule.spec.get(f"{violation.variant}_outcome", outcome_spec)
            outcome, missing = _resolve_outcome(outcome_spec, lookup)
            if outcome is None:
                pending.append(_Pending(rule, missing, _outcomes_of(outcome_spec)))
            else:
                found.append((outcome, _finding(rule, violation, outcome)))
    return found, pending


def _worst(found) -> int:
    return max((_SEVERITY[o] for o, _ in found), default=0)


def _verdict_from(found, extra_review: list[Reason] | None = None) -> Verdict:
    extra_review = extra_review or []
    by = lambda outcome: [r for o, r in found if o == outcome]  # noqa: E731
    if by(INELIGIBLE):
        return Verdict(INELIGIBLE, by(INELIGIBLE))
    if by(NEEDS_REVIEW) or extra_review:
        return Verdict(NEEDS_REVIEW, by(NEEDS_REVIEW) + extra_review)
    return Verdict(ELIGIBLE, by(INFO))


def evaluate(*, program: ProgramRules, answers: Mapping[str, Any]) -> Verdict:
    """Final verdict. A hard ineligibility outranks needs_review; a rule that still
    lacks data (after defaults) becomes a needs_review reason naming what is missing."""
    found, pending = _run(program, program.with_defaults(answers))
    missing_reasons = []
    for p in pending:
        if p.outcomes <= {INFO}:
            continue
        labels = "、".join(program.field_label(f) for f in dict.fromkeys(p.missing))
        missing_reasons.append(Reason(code=f"missing_info_{p.rule.code}",
                                      message=f"還缺少「{labels}」，需要承辦人員確認。",
                                      source=p.rule.source))
    return _verdict_from(found, missing_reasons)


def early_verdict(*, program: ProgramRules, answers: Mapping[str, Any],
                  assume_defaults: bool = False) -> Verdict | None:
    """The verdict if no remaining answer can change it, else None.
    E.g. registration "none" -> ineligible at once; 30 employees is final only
    once the track is known (普及: ineligible, 共融: needs review)."""
    found, pending = _run(program, program.with_defaults(answers) if assume_defaults else answers)
    if any(o == INELIGIBLE for o, _ in found):
        return _verdict_from(found)
    worst_possible = max((_SEVERITY[o] for p in pending for o in p.outcomes), default=0)
    if worst_possible > max(_worst(found), _SEVERITY[INFO]):
        return None
    return _verdict_from(found)


def next_needed_field(*, program: ProgramRules, answers: Mapping[str, Any],
                      assume_defaults: bool = False) -> str | None:
    """The first field (in the programme's asking order) whose answer could still
    change the verdict; None when the verdict is settled."""
    current = answers if not assume_defaults else program.with_defaults(answers)
    found, pending = _run(program, current)
    if any(o == INELIGIBLE for o, _ in found):
        return None
    floor = max(_worst(found), _SEVERITY[INFO])
    wanted = {f for p in pending if max(_SEVERITY[o] for o in p.outcomes) > floor
              for f in p.missing}
    if not wanted:
        return None
    order = list(program.fields)
    return min(wanted, key=lambda f: order.index(f) if f in order else len(order))
