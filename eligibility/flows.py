"""「我符合資格嗎？」: the eligibility intake as a chat conversation, driven by the engine.

Verdict questions come from the programme's ``eligibility.fields`` (programs.yaml, asking order)
and are asked only while the engine says their answer could still change the verdict
(``next_needed_field``); an answer that settles the case as ineligible ends the conversation at
once (``early_verdict``), e.g. 30 employees in 數位普及. 「不確定」 is an answer: the engine is run
for every value the owner might mean, and when those disagree the result is ``needs_review``.
A field the campaign decides (``campaign_key``: the track is the proposal's, 002 叁) is taken
from the campaign and never asked; without one it is asked in owner words, only when it matters.

Verdict first: the moment the answers decide it, the verdict card says what it means
(``announce``), and for eligible / needs_review cases the company details follow as the step
toward signing (統編, name, 縣市/鄉鎮, industry, main product), then the summary and the record
with the letter button. Right after the 統編, ``finish`` looks it up (the only I/O, in the
dispatcher's transaction) and the flow goes on: the funded-business register (eligibility.funding)
may change the verdict, and a 統編 another account registered leads to 「申請加入這家公司」
(companies.service: membership is granted by a member, never claimed by typing a 統編).
"""
from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
from dataclasses import asdict
from datetime import datetime
from typing import Any, Mapping

from bot.messages import Card, Choice, Text, encode_postback
from bot.outbox import enqueue_push
from bot.services import audit, user_ids_with_role
from bot.texts import all_keys, t
from bot.timeutil import format_roc_date
from companies import service as companies
from dialogs import framework as fw
from dialogs.parsing import (is_non_answer, is_unsure, normalize, parse_count, parse_registration,
                             parse_yes_no, strip_address_prefix, words_refusal)
from dialogs.registry import command, register_flow

from .engine import (ELIGIBLE, INELIGIBLE, NEEDS_REVIEW, ProgramRules, Reason, Verdict,
                     early_verdict, evaluate, load_programs, next_needed_field)
from .funding import FundedRecord, apply_register, find_records
from .routes import DEFAULT_PROGRAMS_FILE
from .taxid import normalize_tax_id, tax_id_problem

DEFAULT_PROGRAM = "gonghao-2023"
CLUSTER_PROGRAM = "cluster-2022"  # the roster check (FlowId.CLUSTER_CHECK), 003 貳四 提案類別
UNSURE = "unsure"
NO_TAX_ID = "none"
CLOSED_TYPES = ("choice", "multi_choice", "boolean")
# Questions asked after the verdict, for the company record (not rules: record fields).
DETAIL_STEPS = ("tax_id", "company_name", "region", "industry", "main_product")
ANNOUNCED, LOOKUP, JOIN = "_verdict", "_lookup", "join"  # conversation data besides the answers
MAX_TEXT = 200  # companies.name / main_product column size
ACCENT = {ELIGIBLE: "#06C755", NEEDS_REVIEW: "#F5A623", INELIGIBLE: "#8A8A8A"}


# --- programme and analysis (pure) --------------------------------------------------------

def program_id(ctx: fw.Context) -> str:
    config = getattr(ctx.services, "config", None) or {}
    if ctx.flow == fw.FlowId.CLUSTER_CHECK.value:
        return config.get("CLUSTER_CHECK_PROGRAM") or CLUSTER_PROGRAM
    return config.get("ELIGIBILITY_PROGRAM") or DEFAULT_PROGRAM


def program_of(ctx: fw.Context) -> ProgramRules:
    return ctx.services.programs[program_id(ctx)]


def _has_text(key: str) -> bool:
    return key in _text_keys()


_TEXT_KEYS: set[str] = set()


def _text_keys() -> set[str]:
    if not _TEXT_KEYS:
        _TEXT_KEYS.update(all_keys())
    return _TEXT_KEYS


def _text_or(key: str, fallback: str, **values) -> str:
    return t(key, **values) if _has_text(key) else fallback


def verdict_fields(program: ProgramRules) -> list[str]:
    """The fields the chat asks as verdict questions (everything but 統編 and rosters)."""
    return [name for name, spec in program.fields.items() if spec.get("type") not in ("tax_id", "roster")]


def roster_fields(program: ProgramRules) -> list[str]:
    return [name for name, spec in program.fields.items() if spec.get("type") == "roster"]


def _candidates(spec: Mapping[str, Any]) -> list[Any]:
    """Every value an owner who answered 「不確定」 might mean."""
    kind = spec.get("type")
    if kind == "boolean":
        return [True, False]
    if kind == "choice":
        return list(spec.get("choices") or {})
    if kind == "multi_choice":
        return [[]] + [[key] for key in spec.get("choices") or {}]
    return [None]


def campaign_answers(program: ProgramRules) -> dict[str, Any]:
    """Answers the proposal decides, not the owner: a field with ``campaign_key`` takes the
    campaign's value when it names one of the field's choices (the track: a proposing unit
    proposes 數位普及 or 數位共融, 002 叁 — an owner cannot know which)."""
    campaign = program.data.get("campaign") or {}
    fixed = {}
    for name, spec in program.fields.items():
        key = spec.get("campaign_key")
        if key and campaign.get(key) in (spec.get("choices") or {}):
            fixed[name] = campaign[key]
    return fixed


def answer_variants(program: ProgramRules, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The engine's answers: one dict, or one per combination of values for 「不確定」 answers."""
    base, unsure = campaign_answers(program), []
    for name in verdict_fields(program):
        if name in base or name not in data or data[name] is None:
            continue
        if data[name] == UNSURE:
            unsure.append(name)
        else:
            base[name] = data[name]
    if data.get("tax_id") and data["tax_id"] != NO_TAX_ID:
        base["tax_id"] = data["tax_id"]
    for name in roster_fields(program):
        if data.get(name) is not None:
            base[name] = data[name]
    if not unsure:
        return [base]
    combos = itertools.product(*(_candidates(program.fields[name]) for name in unsure))
    return [{**base, **dict(zip(unsure, values))} for values in combos]


_ANALYSIS: dict[tuple, tuple[frozenset, bool]] = {}


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def analysis(program: ProgramRules, data: Mapping[str, Any]) -> tuple[frozenset, bool]:
    """(fields whose answer could still change the verdict, settled-as-ineligible).
    A field counts when it is the next needed one for any reading of 「不確定」 answers; the case is
    settled only when every reading is already ineligible. Memoised: ``when`` asks it per step."""
    fields = verdict_fields(program) + roster_fields(program)
    key = (program.id, id(program), _freeze({k: data.get(k) for k in fields if k in data}))
    cached = _ANALYSIS.get(key)
    if cached is not None:
        return cached
    variants = answer_variants(program, data)
    needed = {next_needed_field(program=program, answers=v) for v in variants} - {None}
    settled = all((early_verdict(program=program, answers=v) or Verdict(ELIGIBLE)).verdict == INELIGIBLE
                  for v in variants)
    if len(_ANALYSIS) > 4096:
        _ANALYSIS.clear()
    _ANALYSIS[key] = result = (frozenset(needed), settled)
    return result


def settled(ctx: fw.Context) -> bool:
    return analysis(program_of(ctx), ctx.data)[1]


def verdict_questions_done(ctx: fw.Context) -> bool:
    needed, is_settled = analysis(program_of(ctx), ctx.data)
    return not needed and not is_settled


def final_verdict(program: ProgramRules, data: Mapping[str, Any]) -> Verdict:
    """The engine's verdict over every reading of 「不確定」 answers: the same verdict for all
    readings stands; readings that disagree make it needs_review (staff check, not a guess)."""
    variants = answer_variants(program, data)
    verdicts = [evaluate(program=program, answers=v) for v in variants]
    outcomes = {v.verdict for v in verdicts}
    if len(outcomes) == 1:
        return _merge_reasons(outcomes.pop(), verdicts)
    unsure = [name for name in verdict_fields(program) if data.get(name) == UNSURE]
    worse = [r for v in verdicts if v.verdict != ELIGIBLE for r in v.reasons]
    sources = "; ".join(dict.fromkeys(r.source for r in worse if r.source))
    reasons = [Reason(code=f"unsure_{name}", message=t("eligibility.unsure_reason", label=program.field_label(name)),
                      source=sources) for name in unsure]
    reviews = [r for v in verdicts if v.verdict == NEEDS_REVIEW for r in v.reasons]
    return Verdict(NEEDS_REVIEW, _unique(reasons + reviews))


def _unique(reasons: list[Reason]) -> list[Reason]:
    return list({r.code: r for r in reasons}.values())


def _merge_reasons(outcome: str, verdicts: list[Verdict]) -> Verdict:
    return Verdict(outcome, _unique([r for v in verdicts for r in v.reasons]))


# --- question building blocks ----------------------------------------------------------------

def _help_choice(ctx: fw.Context, name: str) -> list[Choice]:
    if not _has_text(f"eligibility.help_{name}"):
        return []
    return [Choice(t("eligibility.whats_this"), data=encode_postback(nav=fw.Nav.HELP.value),
                   display=t("eligibility.whats_this"))]


def _choice_label(field: str, key: str, spec: Mapping) -> str:
    return _text_or(f"eligibility.choice_{field}_{key}", str((spec.get("choices") or {}).get(key, key)))


def _question(ctx: fw.Context, name: str, spec: Mapping, **values) -> str:
    text = _text_or(f"eligibility.ask_{name}", str(spec.get("label", name)), **values)
    if not ctx.history and not ctx.repeat and not ctx.data.get(name) and ctx.flow == fw.FlowId.ELIGIBILITY.value:
        text = t("eligibility.intro", program=program_of(ctx).name) + "\n\n" + text
    return text


def _ask_verdict_field(name: str):
    def ask(ctx: fw.Context):
        program = program_of(ctx)
        spec = program.fields[name]
        kind = spec.get("type")
        options: list[Choice] = []
        extra = {}
        if kind == "choice":
            options = [ctx.choice(_choice_label(name, key, spec), key) for key in spec.get("choices") or {}]
            options.append(ctx.choice(t("eligibility.unsure"), UNSURE))
        elif kind == "multi_choice":
            extra["items"] = _prior_items(program, name, spec)
            options = [ctx.choice(_choice_label(name, key, spec), key) for key in spec.get("choices") or {}]
            options += [ctx.choice(t("eligibility.answer_none"), "none"), ctx.choice(t("eligibility.unsure"), UNSURE)]
        elif kind == "boolean":
            options = [ctx.choice(t("eligibility.answer_yes"), "yes"), ctx.choice(t("eligibility.answer_no"), "no"),
                       ctx.choice(t("eligibility.unsure"), UNSURE)]
        elif kind == "integer" and _has_text(f"eligibility.choice_{name}_zero"):
            # small counts as taps (002: 9 人(含)以下); larger ones are typed
            options = [ctx.choice(t(f"eligibility.choice_{name}_zero"), "0")]
            options += [ctx.choice(str(n), str(n)) for n in range(1, 10)]
        quick = options + _help_choice(ctx, name) + fw.nav_choices(ctx)
        if len(quick) > 13:  # LINE's quick reply limit: drop the help shortcut, then 取消
            quick = options + fw.nav_choices(ctx)[:13 - len(options)]
        return [Text(_question(ctx, name, spec, **extra), tuple(quick[:13]))]
    return ask


def _prior_items(program: ProgramRules, name: str, spec: Mapping) -> str:
    """The prior-funding options in plain words, numbered, with the agencies that count (002 註4)."""
    agencies = {}
    for rule in program.rules:
        if rule.spec.get("field") == name:
            for key, item in (rule.spec.get("items") or {}).items():
                if item.get("agencies"):
                    agencies[key] = "、".join(item["agencies"][:4])
    lines = []
    for n, (key, label) in enumerate((spec.get("choices") or {}).items(), start=1):
        line = t("eligibility.prior_item_line", n=n, label=label)
        if key in agencies:
            line += t("eligibility.prior_agencies", agencies=agencies[key])
        lines.append(line)
    return "\n".join(lines)


def _is_unsure(text: str) -> bool:
    return parse_yes_no(text) == UNSURE or normalize(text) in {normalize(t("eligibility.unsure")), "unsure"}


def _match_choice(text: str, field: str, spec: Mapping) -> str | None:
    """A typed answer naming one option: its key, label or short label, a part of the short label
    ('普及'), or the short label's first words inside a sentence ('拿過雲世代的')."""
    folded = normalize(text)
    hits = []
    for key, label in (spec.get("choices") or {}).items():
        short = normalize(_choice_label(field, key, spec))
        if folded in (key, normalize(label), short):
            return key
        if (len(folded) >= 2 and folded in short) or short in folded or short[:3] in folded:
            hits.append(key)
    return hits[0] if len(hits) == 1 else None


def _parse_verdict_field(name: str):
    def parse(ctx: fw.Context, user_input: fw.UserInput):
        program = program_of(ctx)
        spec = program.fields[name]
        kind = spec.get("type")
        text = user_input.answer_text.strip()
        if user_input.kind == "postback":
            return _postback_value(kind, text)
        if kind == "integer":
            count = parse_count(text)
            if count is not None and count > int(spec.get("max_plausible", 100000)):
                raise fw.Invalid(_text_or(f"eligibility.implausible_{name}",
                                          t("eligibility.implausible_employees", count=count), count=count),
                                 looks_like_question=False)
            if count is None or count < int(spec.get("min", 0)):
                raise fw.Invalid(_text_or(f"eligibility.invalid_{name}", t("eligibility.invalid_employees")))
            return count
        if _is_unsure(text):
            return UNSURE
        if kind == "choice":
            value = parse_registration(text) if name == "registration" else None
            value = value or _match_choice(text, name, spec)
            yes_no = spec.get("yes_no") or {}  # a choice asked as a yes/no question (the track)
            if value is None and yes_no and parse_yes_no(text) in (True, False):
                value = yes_no.get("yes" if parse_yes_no(text) else "no")
            if value in (spec.get("choices") or {}):
                return value
            raise fw.Invalid(_text_or(f"eligibility.invalid_{name}", t("eligibility.invalid_yes_no")))
        if kind == "multi_choice":
            value = _match_choice(text, name, spec)
            if value:
                return [value]
            if parse_yes_no(text) is False or normalize(text) in {normalize(t("eligibility.answer_none")), "都沒", "沒拿過"}:
                return []
            raise fw.Invalid(_text_or(f"eligibility.invalid_{name}", t("eligibility.invalid_yes_no")))
        if kind == "boolean":
            answer = parse_yes_no(text)
            if answer is None:
                raise fw.Invalid(t("eligibility.invalid_yes_no"))
            return answer
        raise fw.Invalid(t("eligibility.invalid_yes_no"))
    return parse


def _postback_value(kind: str, value: str) -> Any:
    if value == UNSURE:
        return UNSURE
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return value == "yes"
    if kind == "multi_choice":
        return [] if value == "none" else [value]
    return value


def _display_verdict_field(name: str):
    def display(ctx: fw.Context, value: Any) -> str:
        spec = program_of(ctx).fields.get(name, {})
        if value == UNSURE:
            return t("eligibility.unsure_display")
        kind = spec.get("type")
        if kind == "integer":
            return t("eligibility.employees_display_zero") if value == 0 else t("eligibility.employees_display", count=value)
        if kind == "boolean":
            return t("eligibility.answer_yes") if value else t("eligibility.answer_no")
        if kind == "multi_choice":
            return "、".join(_choice_label(name, k, spec) for k in value or []) or t("eligibility.answer_none")
        return _choice_label(name, str(value), spec)
    return display


def _verdict_when(name: str):
    def when(ctx: fw.Context) -> bool:
        if name in ctx.data:
            return True
        program = program_of(ctx)
        return name in program.fields and name in analysis(program, ctx.data)[0]
    return when


# --- verdict first, then the company details -------------------------------------------------------

def _lookup_of(data: Mapping[str, Any]) -> dict:
    """What the 統編 lookup found, if it was for the 統編 now in the answers (else nothing)."""
    lookup = data.get(LOOKUP) or {}
    return lookup if lookup.get("tax_id") and lookup.get("tax_id") == data.get("tax_id") else {}


def current_verdict(program: ProgramRules, data: Mapping[str, Any]) -> Verdict:
    """The verdict as far as known: the answers, then the funded-business register once the
    統編 was looked up."""
    verdict = final_verdict(program, data)
    records = _lookup_of(data).get("records")
    if records:
        verdict = apply_register(program=program, verdict=verdict, records=[FundedRecord(**r) for r in records])
    return verdict


def _lookup_pending(ctx: fw.Context) -> bool:
    tax_id = ctx.data.get("tax_id")
    return bool(tax_id) and tax_id != NO_TAX_ID and verdict_questions_done(ctx) and not _lookup_of(ctx.data)


def _taken(ctx: fw.Context) -> bool:
    """The 統編 belongs to a company another account registered: only 「申請加入」 is offered."""
    return _lookup_of(ctx.data).get("standing") == "taken"


def _details_when(ctx: fw.Context) -> bool:
    return verdict_questions_done(ctx)


def _record_details_when(ctx: fw.Context) -> bool:
    return verdict_questions_done(ctx) and not _taken(ctx)


def intake_settled(ctx: fw.Context) -> bool:
    """Time for ``finish``: the answers settle the case as ineligible, the 統編 needs looking up,
    the register made it ineligible, or the owner asked to join the registered company."""
    if settled(ctx) or _lookup_pending(ctx) or ctx.data.get(JOIN) is True:
        return True
    return bool(_lookup_of(ctx.data)) and current_verdict(program_of(ctx), ctx.data).verdict == INELIGIBLE


def announce(ctx: fw.Context) -> tuple[fw.Context, list]:
    """The verdict as soon as the answers decide it (and again if an edit or the register changes
    it), before the company details. Ineligible is left to ``finish`` (with the alternatives)."""
    if not verdict_questions_done(ctx):
        return ctx, []
    verdict = current_verdict(program_of(ctx), ctx.data)
    if verdict.verdict == INELIGIBLE or ctx.data.get(ANNOUNCED) == verdict.verdict:
        return ctx, []
    return ctx.evolve(data={**ctx.data, ANNOUNCED: verdict.verdict}), [interim_card(verdict)]


def interim_card(verdict: Verdict) -> Card:
    body = "\n".join(f"• {r.message}" for r in verdict.reasons) or t("eligibility.verdict_none")
    title = t(f"eligibility.verdict_title_{verdict.verdict}")
    return Card(title=title, body=body, note=t(f"eligibility.then_details_{verdict.verdict}"),
                accent=ACCENT[verdict.verdict], alt_text=f"{title}：{body}"[:400])


def _ask_join(ctx: fw.Context):
    return [Text(t("companies.already_registered", tax_id=ctx.data.get("tax_id", "")), (
        ctx.choice(t("companies.join_button"), "join"),
        # 上一步 under another name: back to the 統編 question, which forgets the typed one.
        Choice(t("companies.other_tax_id"), data=encode_postback(nav=fw.Nav.BACK.value),
               display=t("companies.other_tax_id")),
        Choice(t("core.nav_cancel"))))]


def _parse_join(ctx: fw.Context, user_input: fw.UserInput) -> bool:
    text = normalize(user_input.answer_text)
    if text in {"join", normalize(t("companies.join_button")), "申請加入", "加入", "申請", "要加入"}:
        return True
    raise fw.Invalid(t("companies.invalid_join"))


def _look_up(session, ctx: fw.Context) -> fw.Context:
    """The 統編's register records and whose it is, kept with the answers (the steps stay pure)."""
    tax_id = ctx.data["tax_id"]
    lookup = {"tax_id": tax_id, "records": [asdict(r) for r in find_records(session, tax_id=tax_id)],
              "standing": companies.standing(session, line_user_id=ctx.user_id, tax_id=tax_id)}
    return ctx.evolve(data={**ctx.data, LOOKUP: lookup})


def _ask_tax_id(ctx: fw.Context):
    optional = ctx.data.get("registration") in ("tax_only", UNSURE)
    quick = ([ctx.choice(t("eligibility.choice_no_tax_id"), NO_TAX_ID)] if optional else []) + \
        _help_choice(ctx, "tax_id") + fw.nav_choices(ctx)
    key = "eligibility.ask_tax_id_optional" if optional else "eligibility.ask_tax_id"
    return [Text(t(key), tuple(quick))]


def _parse_tax_id(ctx: fw.Context, user_input: fw.UserInput) -> str:
    text = user_input.answer_text.strip()
    optional = ctx.data.get("registration") in ("tax_only", UNSURE)
    if optional and (text == NO_TAX_ID or normalize(text) in {normalize(t("eligibility.choice_no_tax_id")), "沒有", "沒有統編", "無"}):
        return NO_TAX_ID
    if is_non_answer(text) or is_unsure(text):
        # 「不知道」「沒有」 where the registration has one: where it is printed and looked up (002 註2)
        raise fw.Invalid(t("eligibility.tax_id_where"), looks_like_question=False)
    digits = re.findall(r"\d+", unicodedata.normalize("NFKC", text))
    candidate = digits[0] if len(digits) == 1 and not re.search(r"[-–—]", text) else normalize_tax_id(text)
    problem = tax_id_problem(candidate)
    if problem:
        looks_like_question = None if not digits else False
        raise fw.Invalid(problem, looks_like_question=looks_like_question)
    return candidate


def _display_tax_id(ctx: fw.Context, value: str) -> str:
    return t("eligibility.choice_no_tax_id") if value == NO_TAX_ID else str(value)


def _free_text(name: str):
    """Names and products: any short text, except a question (which goes to the FAQ)."""
    def parse(ctx: fw.Context, user_input: fw.UserInput) -> str:
        text = " ".join(user_input.answer_text.split())
        if re.search(r"[?？]|[嗎呢]$", text):
            raise fw.Invalid(t(f"eligibility.invalid_{name}"), looks_like_question=True)
        if not text or len(text) > MAX_TEXT or is_non_answer(text):
            raise fw.Invalid(t(f"eligibility.invalid_{name}"))
        refusal = words_refusal(text, t(f"eligibility.invalid_{name}"))
        if refusal:  # 「五個人」 typed a question late: a number names nothing
            raise fw.Invalid(refusal, looks_like_question=False)
        return text
    return parse


def _ask_text(name: str, choices: tuple[str, ...] = ()):
    def ask(ctx: fw.Context):
        quick = (*(ctx.choice(c, c) for c in choices), *_help_choice(ctx, name), *fw.nav_choices(ctx))
        return [Text(t(f"eligibility.ask_{name}"), quick[:13])]
    return ask


# A county given alone, waiting for its township (private: not a field of the record).
REGION_COUNTY = "_region_county"


def counties() -> list[str]:
    return t("eligibility.counties").split("、")


def parse_region(text: str, county: str | None = None) -> dict[str, str] | None:
    """'台北市大安區' -> {'county': '臺北市', 'township': '大安區'}; '台中西屯區' works too (台/臺
    both accepted; a county without 市/縣 only when unambiguous). A county alone ('台中') gives
    {'county': '臺中市'}; with ``county`` already known, a township alone ('西屯區') completes it.
    None when unclear."""
    folded = normalize(strip_address_prefix(text)).replace("台", "臺")
    folded = re.sub(r"^(我們|店|我的店|店家)?(在|位於|住在)", "", folded)
    rest = None
    for name in counties():
        if folded.startswith(name):
            found, rest = name, folded[len(name):]
            break
    else:
        bases = [c for c in counties() if folded.startswith(c[:-1])]
        if len(bases) == 1:
            found, rest = bases[0], folded[len(bases[0]) - 1:]
        elif county:
            found, rest = county, folded
        else:
            return None
    if not rest:
        return {"county": found}
    match = re.match(r"^(.{1,4}?[區鄉鎮市])", rest)
    if not match:
        return None
    return {"county": found, "township": match.group(1)}


def _parse_region(ctx: fw.Context, user_input: fw.UserInput) -> dict[str, str]:
    county = ctx.data.get(REGION_COUNTY)
    region = parse_region(user_input.answer_text, county)
    if region is None:
        raise fw.Invalid(t("eligibility.invalid_township", county=county) if county else t("eligibility.invalid_region"))
    return region


def _store_region(ctx: fw.Context, region: dict[str, str]) -> fw.Context:
    """A county alone is kept and the question narrows to its townships (the advisor's visit is
    planned by township); a full answer replaces it."""
    data = {k: v for k, v in ctx.data.items() if k != REGION_COUNTY}
    if "township" not in region:
        return ctx.evolve(data={**data, REGION_COUNTY: region["county"]})
    return ctx.evolve(data=data).with_answer("region", region)


def _ask_region(ctx: fw.Context):
    county = ctx.data.get(REGION_COUNTY)
    if not county:
        return _ask_text("region")(ctx)
    quick = (*_help_choice(ctx, "region"), *fw.nav_choices(ctx))
    return [Text(t("eligibility.ask_township", county=county), quick)]


def _parse_industry(ctx: fw.Context, user_input: fw.UserInput) -> str:
    text = " ".join(user_input.answer_text.split())
    if normalize(text) == normalize(t("eligibility.industry_other")):
        raise fw.Invalid(t("eligibility.invalid_industry"), looks_like_question=False)
    return _free_text("industry")(ctx, user_input)


def _industry_choices() -> tuple[str, ...]:
    return tuple(t("eligibility.industry_choices").split("、")) + (t("eligibility.industry_other"),)


# --- finish: verdict, record, notifications ------------------------------------------------------

def _notify_staff(session, *, text: str, key: str, origin: str) -> int:
    recipients = user_ids_with_role(session, "staff")
    for staff in recipients:
        enqueue_push(session, to=staff, replies=[Text(text)], idempotency_key=f"{key}:{staff}", origin=origin)
    return len(recipients)


def _alternatives(program: ProgramRules, programs: Mapping[str, ProgramRules], verdict: Verdict) -> list[str]:
    others = "、".join(p.short_name for pid, p in programs.items() if pid != program.id)
    lines = []
    for reason in verdict.reasons:
        key = f"eligibility.alt_{reason.code}"
        if _has_text(key):
            lines.append(t(key, others=others))
    return list(dict.fromkeys(lines)) or [t("eligibility.alt_default")]


def verdict_card(*, program: ProgramRules, programs: Mapping[str, ProgramRules], verdict: Verdict,
                 roster: bool = False) -> Card:
    body = "\n".join(f"• {r.message}" for r in verdict.reasons) or t("eligibility.verdict_none")
    buttons: tuple[Choice, ...] = ()
    if roster:  # a 群聚 roster: no letter of intent; say what to fix or that it is ready
        note = t(f"eligibility.next_cluster_{verdict.verdict}")
        buttons = (Choice(t("eligibility.cluster_recheck")),)
    elif verdict.verdict == ELIGIBLE:
        note = t("eligibility.next_eligible")
        buttons = (Choice(t("core.menu_letter")),)  # message action: the letter flow's phrase
    elif verdict.verdict == NEEDS_REVIEW:
        note = t("eligibility.next_needs_review")
        buttons = (Choice(t("core.menu_faq")),)
    else:
        note = "\n".join([t("eligibility.next_ineligible"), t("eligibility.alternatives_title"),
                          *(f"• {line}" for line in _alternatives(program, programs, verdict))])
        buttons = (Choice(t("eligibility.recheck"), text=t("eligibility.redo")),)
    title = t(f"eligibility.verdict_title_{verdict.verdict}")
    return Card(title=title, body=body, note=note, buttons=buttons, accent=ACCENT[verdict.verdict],
                alt_text=f"{title}：{body}"[:400])


def record_card(*, verdict: Verdict, name: str) -> Card:
    """The end of an eligible / needs-review intake: the record is kept, and what comes next."""
    title = t(f"eligibility.recorded_title_{verdict.verdict}")
    body = t("eligibility.recorded_body", name=name)
    if verdict.verdict == ELIGIBLE:
        note, buttons = t("eligibility.next_eligible"), (Choice(t("core.menu_letter")),)
    else:
        note, buttons = t("eligibility.next_needs_review"), (Choice(t("core.menu_faq")),)
    return Card(title=title, body=body, note=note, buttons=buttons, accent=ACCENT[verdict.verdict],
                alt_text=f"{title}：{body}"[:400])


def _answers(program: ProgramRules, data: Mapping[str, Any]) -> dict:
    return {**campaign_answers(program), **{k: data[k] for k in verdict_fields(program) if k in data}}


def _record_fields(program: ProgramRules, ctx: fw.Context, verdict: Verdict) -> dict:
    data = ctx.data
    region = data.get("region") or {}
    track = campaign_answers(program).get("track") or data.get("track")
    if track in (None, UNSURE):
        track = (program.data.get("campaign") or {}).get("track") or program.fields.get("track", {}).get("default")
    return {
        "program_id": program.id, "name": data.get("company_name"), "county": region.get("county"),
        "township": region.get("township"), "industry": data.get("industry"),
        "main_product": data.get("main_product"),
        "registration": data.get("registration") if data.get("registration") != UNSURE else None,
        "employees": data.get("employees"), "track": track, "answers": _answers(program, data),
        "verdict": verdict.verdict, "verdict_reasons": [r.to_dict() for r in verdict.reasons],
        "verdict_at": ctx.now,
    }


def _done(ctx: fw.Context, verdict: Verdict) -> fw.Context:
    """The conversation is over; the verdict and its date stay in memory (「我符合資格嗎？」 later
    says what is on record, also for a verdict that made no company record)."""
    return ctx.cleared().remember(eligibility_last={"verdict": verdict.verdict, "at": ctx.now.isoformat()})


def _audit_verdict(request, ctx: fw.Context, program: ProgramRules, verdict: Verdict, company_id: int | None,
                   **detail) -> None:
    audit(request.session, actor=ctx.user_id, action="eligibility_verdict",
          target=f"company:{company_id}" if company_id else None, program=program.id,
          verdict=verdict.verdict, codes=verdict.codes, **detail)


def finish(request) -> fw.Turn:
    ctx, session = request.ctx, request.session
    programs = request.services.programs
    program = programs[program_id(ctx)]
    lead: list = []
    if _lookup_pending(ctx):
        # The 統編 was just typed: look it up, then the conversation goes on (or ends, below).
        turn = fw.proceed(ELIGIBILITY, _look_up(session, ctx))
        if not turn.finish:
            return turn
        ctx, lead = turn.ctx, list(turn.replies)
    verdict = current_verdict(program, ctx.data)
    if verdict.verdict == INELIGIBLE:  # by the answers or the register: no details asked
        _audit_verdict(request, ctx, program, verdict, None)
        return fw.Turn(_done(ctx, verdict), [*lead, verdict_card(program=program, programs=programs, verdict=verdict)],
                       show_menu=True)
    if ctx.data.get(JOIN) is True:
        return _ask_to_join(request, ctx, program, verdict, lead)
    tax_id = ctx.data.get("tax_id") if ctx.data.get("tax_id") not in (None, NO_TAX_ID) else None
    intake = companies.record_intake(session, line_user_id=ctx.user_id, tax_id=tax_id,
                                     fields=_record_fields(program, ctx, verdict))
    if intake.taken is not None:
        # Registered by another account since the lookup: this one may only ask to join.
        lookup = {**_lookup_of(ctx.data), "standing": "taken"}
        return fw.proceed(ELIGIBILITY, ctx.evolve(data={**ctx.data, LOOKUP: lookup}), lead)
    company = intake.company
    if verdict.verdict == NEEDS_REVIEW:
        reasons = "\n".join(f"• {r.message}" for r in verdict.reasons)
        _notify_staff(session, text=t("eligibility.staff_review", reasons=reasons, name=company.name or "",
                                      tax_id=tax_id or "—"),
                      key=f"eligibility:review:{company.id}:{verdict.verdict}", origin=f"eligibility:{company.id}")
    _audit_verdict(request, ctx, program, verdict, company.id)
    return fw.Turn(_done(ctx, verdict), [*lead, record_card(verdict=verdict, name=company.name or "")],
                   show_menu=True)


def _ask_to_join(request, ctx: fw.Context, program: ProgramRules, verdict: Verdict, lead: list) -> fw.Turn:
    """「申請加入這家公司」: the request keeps this person's own answers; the company is not touched
    and shows nothing of itself until a member (or staff) approves."""
    session, tax_id = request.session, ctx.data["tax_id"]
    company = companies.find_by_tax_id(session, tax_id=tax_id)
    if company is None:  # gone meanwhile (erased): the 統編 is free again, carry on as a new one
        data = {k: v for k, v in ctx.data.items() if k not in (JOIN, LOOKUP)}
        return fw.proceed(ELIGIBILITY, ctx.evolve(data=data, history=tuple(h for h in ctx.history if h != JOIN)),
                          lead)
    answers = {**_answers(program, ctx.data), "verdict": verdict.verdict, "codes": verdict.codes}
    outcome = companies.request_to_join(session, company_id=company.id, line_user_id=ctx.user_id, tax_id=tax_id,
                                        answers=answers, now=ctx.now)
    key = {"created": "companies.join_sent", "pending": "companies.join_pending",
           "declined": "companies.join_declined_recently", "member": "companies.join_member"}[outcome.state]
    if outcome.state == "created" and not companies.members_of(session, company_id=company.id):
        key = "companies.join_sent_staff"
    _audit_verdict(request, ctx, program, verdict, None, join=outcome.state)
    return fw.Turn(_done(ctx, verdict), [*lead, Text(t(key))], show_menu=True)


# --- the flow ----------------------------------------------------------------------------------

def _verdict_steps(field_names: list[str], labels: Mapping[str, str]) -> tuple[fw.Step, ...]:
    return tuple(fw.Step(name, labels.get(name, name), _ask_verdict_field(name), _parse_verdict_field(name),
                         when=_verdict_when(name), display=_display_verdict_field(name),
                         help=_text_or(f"eligibility.help_{name}", ""))
                 for name in field_names)


def _build_flow(default: ProgramRules) -> fw.Flow:
    # Step names are fixed at start-up from the programme file's fields (asking order); the
    # questions, choices and rules are read from the app's programmes at run time.
    names = verdict_fields(default)
    labels = {n: default.field_label(n) for n in names}
    details = (
        fw.Step("tax_id", default.field_label("tax_id"), _ask_tax_id, _parse_tax_id, when=_details_when,
                display=_display_tax_id, help=t("eligibility.help_tax_id")),
        fw.Step(JOIN, t("companies.label_join"), _ask_join, _parse_join, when=lambda ctx: _details_when(ctx) and _taken(ctx)),
        fw.Step("company_name", t("eligibility.label_company_name"), _ask_text("company_name"),
                _free_text("company_name"), when=_record_details_when),
        fw.Step("region", t("eligibility.label_region"), _ask_region, _parse_region, when=_record_details_when,
                store=_store_region, pending=(REGION_COUNTY,), accepts=frozenset({"text", "postback", "location"}),
                display=lambda ctx, v: f"{v.get('county', '')}{v.get('township', '')}" if v else "—",
                help=t("eligibility.help_region")),
        fw.Step("industry", t("eligibility.label_industry"), _ask_text("industry", _industry_choices()),
                _parse_industry, when=_record_details_when),
        fw.Step("main_product", t("eligibility.label_main_product"), _ask_text("main_product"),
                _free_text("main_product"), when=_record_details_when),
    )
    return fw.Flow(
        id=fw.FlowId.ELIGIBILITY, title=t("eligibility.flow_title"), help=t("eligibility.flow_help"),
        steps=_verdict_steps(names, labels) + details, finish=finish, requires_consent=True,
        settled=intake_settled, announce=announce, summary_title=t("eligibility.summary_title"))


_DEFAULTS = load_programs(DEFAULT_PROGRAMS_FILE)  # read once, for both flows' steps
ELIGIBILITY = register_flow(_build_flow(_DEFAULTS[DEFAULT_PROGRAM]))


# --- starting (again) ------------------------------------------------------------------------------

def on_record(request) -> str | None:
    """What the bot already holds about this person's check, in words (None: nothing yet)."""
    ctx, session = request.ctx, request.session
    company = companies.latest_company_of_user(session, line_user_id=ctx.user_id)
    if company is not None and company.verdict:
        return t("eligibility.on_record_company", date=format_roc_date(company.verdict_at or company.updated_at),
                 verdict=t(f"eligibility.verdict_word_{company.verdict}"),
                 company=company.name or company.tax_id or t("companies.this_company"),
                 letter=t(f"eligibility.letter_word_{company.letter_status}")
                 if _has_text(f"eligibility.letter_word_{company.letter_status}") else t("eligibility.letter_word_none"))
    pending = companies.requests_of_user(session, line_user_id=ctx.user_id, status=companies.PENDING)
    if pending:
        return t("eligibility.on_record_pending", date=format_roc_date(pending[0].requested_at),
                 tax_id=pending[0].tax_id or "")
    last = ctx.memory.get("eligibility_last") or {}
    if last.get("verdict") in (ELIGIBLE, NEEDS_REVIEW, INELIGIBLE) and last.get("at"):
        return t("eligibility.on_record_last", date=format_roc_date(datetime.fromisoformat(last["at"])),
                 verdict=t(f"eligibility.verdict_word_{last['verdict']}"))
    return None


@command("eligibility", "我符合資格嗎？", "我符合資格嗎", "資格", "資格檢查", "檢查資格", "可以申請嗎",
         "能不能參加", "符合資格嗎")
def start_eligibility(request) -> fw.Turn:
    record = on_record(request)
    if record is None:
        return fw.Turn(request.ctx, [], start_flow=fw.FlowId.ELIGIBILITY.value)
    return fw.Turn(request.ctx, [Text(record, (Choice(t("eligibility.redo")), Choice(t("eligibility.keep"))))])


@command("eligibility_redo", "重新檢查資格", "重新檢查", "再檢查一次")
def redo_eligibility(request) -> fw.Turn:
    return fw.Turn(request.ctx, [], start_flow=fw.FlowId.ELIGIBILITY.value)


@command("eligibility_keep", "維持原本結果", "維持原結果", "不用重新檢查")
def keep_eligibility(request) -> fw.Turn:
    company = companies.latest_company_of_user(request.session, line_user_id=request.ctx.user_id)
    if company is not None and company.verdict == ELIGIBLE and company.letter_status != "signed":
        return fw.Turn(request.ctx, [Text(t("eligibility.kept_letter_next"), (Choice(t("core.menu_letter")),))])
    return fw.Turn(request.ctx, [Text(t("eligibility.kept"))], show_menu=True)


# --- 數位群聚 roster check (003 貳四 提案類別), for staff and lead businesses ---------------------

def _member_columns(program: ProgramRules) -> tuple[str, Mapping[str, Mapping]]:
    name = roster_fields(program)[0]
    return name, program.fields[name].get("member_fields") or {}


def _ask_roster(ctx: fw.Context):
    program = program_of(ctx)
    _, members = _member_columns(program)
    header = ",".join(str(spec.get("label", key)) for key, spec in members.items())
    return [Text(t("eligibility.ask_members", header=header), (*_help_choice(ctx, "members"), *fw.nav_choices(ctx)))]


def parse_roster(text: str, member_fields: Mapping[str, Mapping]) -> list[dict]:
    """Pasted CSV (header row of labels or keys; full-width commas fine) -> members for the engine.
    Yes/no columns read 是/否/有/沒有/v/空白; a blank boolean takes the field's default."""
    lines = [line for line in unicodedata.normalize("NFKC", text).splitlines() if line.strip()]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if len(rows) < 2:
        raise fw.Invalid(t("eligibility.invalid_members"))
    by_header = {}
    for index, cell in enumerate(rows[0]):
        folded = normalize(cell)
        for key, spec in member_fields.items():
            if folded in (normalize(key), normalize(str(spec.get("label", key)))):
                by_header[key] = index
    missing = [str(spec.get("label", key)) for key, spec in member_fields.items()
               if spec.get("required") and key not in by_header]
    if missing:
        raise fw.Invalid(t("eligibility.invalid_members_columns", columns="、".join(missing)))
    members = []
    for line, row in enumerate(rows[1:], start=2):
        member = {}
        for key, index in by_header.items():
            cell = row[index].strip() if index < len(row) else ""
            spec = member_fields[key]
            if spec.get("type") == "boolean":
                answer = True if normalize(cell) in ("v", "✓", "o") else parse_yes_no(cell) if cell else None
                if answer not in (True, False, None):
                    raise fw.Invalid(t("eligibility.invalid_members_cell", line=line, value=cell))
                member[key] = spec.get("default", False) if answer is None else answer
            elif spec.get("type") == "tax_id":
                if cell and tax_id_problem(cell):
                    raise fw.Invalid(t("eligibility.invalid_members_cell", line=line, value=cell))
                member[key] = normalize_tax_id(cell) or None
            else:
                member[key] = cell or None
        if any(spec.get("required") and not member.get(key) for key, spec in member_fields.items()):
            raise fw.Invalid(t("eligibility.invalid_members_cell", line=line, value=",".join(row)))
        members.append(member)
    return members


def _parse_roster(ctx: fw.Context, user_input: fw.UserInput) -> list[dict]:
    text = user_input.answer_text
    if "," not in unicodedata.normalize("NFKC", text):
        raise fw.Invalid(t("eligibility.invalid_members"))  # a question goes to the FAQ
    _, members = _member_columns(program_of(ctx))
    return parse_roster(text, members)


def finish_cluster(request) -> fw.Turn:
    ctx, programs = request.ctx, request.services.programs
    program = programs[program_id(ctx)]
    verdict = final_verdict(program, ctx.data)
    audit(request.session, actor=ctx.user_id, action="cluster_roster_checked", program=program.id,
          verdict=verdict.verdict, codes=verdict.codes, members=len(ctx.data.get("members") or []))
    card = verdict_card(program=program, programs=programs, verdict=verdict, roster=True)
    return fw.Turn(ctx.cleared(), [card], show_menu=True)


def _build_cluster_flow(default: ProgramRules) -> fw.Flow:
    names = verdict_fields(default)
    labels = {n: default.field_label(n) for n in names}
    roster = roster_fields(default)[0]
    return fw.Flow(
        id=fw.FlowId.CLUSTER_CHECK, title=t("eligibility.cluster_title"), help=t("eligibility.cluster_help"),
        steps=_verdict_steps(names, labels) + (
            fw.Step(roster, default.field_label(roster), _ask_roster, _parse_roster,
                    when=lambda ctx: not settled(ctx),
                    display=lambda ctx, v: t("eligibility.members_display", count=len(v or [])),
                    help=t("eligibility.help_members")),),
        finish=finish_cluster, settled=settled, summary_title=t("eligibility.summary_title"),
        requires_consent=True)  # the pasted roster names owners (kept only until the verdict)


CLUSTER_CHECK = register_flow(_build_cluster_flow(_DEFAULTS[CLUSTER_PROGRAM]))


@command("cluster_check", "群聚名單檢查", "檢查群聚名單", "群聚資格", "數位群聚資格")
def start_cluster_check(request) -> fw.Turn:
    return fw.Turn(request.ctx, [], start_flow=fw.FlowId.CLUSTER_CHECK.value)
