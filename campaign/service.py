"""Campaign setup: is the proposing unit's ``campaign:`` in programs.yaml filled in, and does it
keep to the programme's rules (``campaign_rules:``, seed 002)? Keyword-only functions, no database.

The shipped file is a demo proposal. Its example values are marked by the ``demo:`` list inside
``campaign:`` (the keys still holding an example value), so nothing here knows the example names.
While any is left, production does not offer letter signing (a legal document must not name an
example company) and development marks letters 「範例」 (letters.document).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from bot.texts import t
from letters.document import campaign_settings, parse_roc_datetime
from visits.service import programs_doc

DEMO_KEY = "demo"


@dataclass(frozen=True)
class Finding:
    key: str  # dotted key inside campaign:, e.g. "solution.sla"
    label: str  # zh-TW, as the proposal and the letter call it
    message: str = ""  # zh-TW: what is wrong (rule conflicts)
    value: object = None


@dataclass
class ProgrammeReport:
    program_id: str
    name: str
    demo: list[Finding] = field(default_factory=list)  # still the example value
    missing: list[Finding] = field(default_factory=list)  # a value the unit must fill is empty
    conflicts: list[Finding] = field(default_factory=list)  # contradicts the programme's rules

    @property
    def ok(self) -> bool:
        return not (self.demo or self.missing or self.conflicts)

    def as_dict(self) -> dict:
        return {"program": self.program_id, "name": self.name, "ok": self.ok,
                **{kind: [asdict(f) for f in getattr(self, kind)] for kind in ("demo", "missing", "conflicts")}}


def label(key: str) -> str:
    try:
        return t(f"campaign.key_{key.replace('.', '_')}")
    except KeyError:
        return key


def _get(campaign: dict, key: str):
    value: object = campaign
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _empty(value) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or value == [] or value == {}


def _day(text) -> date:
    return parse_roc_datetime(str(text)).date()


def _roc(day: date) -> str:
    return f"{day.year - 1911}/{day.month:02d}/{day.day:02d}"


PERIOD = re.compile(r"^\s*(\d{2,4}/\d{1,2}/\d{1,2})\s*(?:–|—|-|~|～|至|到)\s*(\d{2,4}/\d{1,2}/\d{1,2})\s*$")


def check_programme(program_id: str, programme: dict) -> ProgrammeReport:
    """Every demo value, missing value and rule conflict of one programme's campaign."""
    campaign = dict(programme.get("campaign") or {})
    rules = dict(programme.get("campaign_rules") or {})
    report = ProgrammeReport(program_id, str(programme.get("name") or program_id))
    demo = [str(key) for key in campaign.get(DEMO_KEY) or []]
    report.demo = [Finding(key, label(key), value=_get(campaign, key)) for key in demo]
    required = list(rules.get("required") or [])
    required += list((rules.get("required_by_track") or {}).get(campaign.get("track"), []))
    report.missing = [Finding(key, label(key)) for key in required
                      if _empty(_get(campaign, key)) and key.split(".")[0] not in demo and key not in demo]
    report.conflicts = _conflicts(campaign, rules)
    return report


def _conflicts(campaign: dict, rules: dict) -> list[Finding]:
    found: list[Finding] = []

    def conflict(key: str, text_key: str, **values) -> None:
        found.append(Finding(key, label(key), t(f"campaign.rule_{text_key}", **values), _get(campaign, key)))

    start = _day(rules["programme_start"]) if rules.get("programme_start") else None
    end = _day(rules["programme_end"]) if rules.get("programme_end") else None

    def within_programme(key: str, day: date) -> None:
        if (start and day < start) or (end and day > end):
            conflict(key, "outside_programme", value=_roc(day), start=_roc(start) if start else "—",
                     end=_roc(end) if end else "—")

    track = campaign.get("track")
    tiers = (campaign.get("tiers") or {})
    if track and track not in tiers:
        conflict("track", "unknown_track", tracks="、".join(label(f"track_{name}") for name in tiers) or "—")
    dates: dict[str, date] = {}
    for key in ("adoption_deadline", "proposal_deadline", "letters_upload_deadline"):
        if _empty(campaign.get(key)):
            continue
        try:
            dates[key] = _day(campaign[key])
        except ValueError:
            conflict(key, "bad_date", value=campaign[key])
            continue
        within_programme(key, dates[key])
    latest = rules.get("adoption_deadline_latest")
    if "adoption_deadline" in dates and latest and dates["adoption_deadline"] > _day(latest):
        conflict("adoption_deadline", "adoption_too_late", latest=_roc(_day(latest)))
    latest = rules.get("proposal_deadline_latest")
    if campaign.get("proposal_deadline") and latest and "proposal_deadline" in dates \
            and parse_roc_datetime(campaign["proposal_deadline"]) > parse_roc_datetime(latest):
        conflict("proposal_deadline", "proposal_too_late", latest=latest)
    days = rules.get("letters_upload_days_after_proposal")
    if days is not None and "letters_upload_deadline" in dates and "proposal_deadline" in dates:
        last = dates["proposal_deadline"] + timedelta(days=int(days))
        if not dates["proposal_deadline"] <= dates["letters_upload_deadline"] <= last:
            conflict("letters_upload_deadline", "letters_upload", days=days, last=_roc(last))
    period = campaign.get("usage_period")
    if not _empty(period):
        match = PERIOD.match(str(period))
        try:
            first, until = (_day(match.group(1)), _day(match.group(2))) if match else (None, None)
        except ValueError:
            first = until = None
        if first is None:
            conflict("usage_period", "bad_period", value=period)
        else:
            if until < first:
                conflict("usage_period", "period_reversed")
            if end and until > end:
                conflict("usage_period", "period_past_end", end=_roc(end))
            elif start and first < start:
                within_programme("usage_period", first)
            if "adoption_deadline" in dates and first > dates["adoption_deadline"]:
                conflict("usage_period", "period_after_adoption", adoption=_roc(dates["adoption_deadline"]))
    planned = campaign.get("companies_planned")
    track_tiers = list(tiers.get(track) or []) if track else []
    if planned is not None and track_tiers:
        try:
            count = int(planned)
        except (TypeError, ValueError):
            count = None
        fits = count is not None and any(int(tier["min"]) <= count <= int(tier["max"]) for tier in track_tiers)
        if not fits:
            ranges = "、".join(f"{tier['tier']} 級 {tier['min']}–{tier['max']} 家" for tier in track_tiers)
            conflict("companies_planned", "tiers", value=planned, track=label(f"track_{track}"), tiers=ranges)
    return found


def letter_programmes(config) -> dict[str, dict]:
    """The programmes whose campaign offers letters of intent, from PROGRAMS_FILE."""
    programmes = (programs_doc(config).get("programs") or {})
    return {pid: body for pid, body in programmes.items()
            if isinstance(body, dict) and (body.get("campaign") or {}).get("letter_of_intent")}


def check(config) -> list[ProgrammeReport]:
    return [check_programme(pid, body) for pid, body in letter_programmes(config).items()]


def demo_keys(config, program_id: str) -> list[str]:
    """The campaign keys still holding an example value (tests may override ``demo`` through
    LETTERS_CAMPAIGN_OVERRIDES, like any campaign value)."""
    return [str(key) for key in campaign_settings(config, program_id).get(DEMO_KEY) or []]


def production(config) -> bool:
    return config.get("BOT_ENV") == "production"


def letters_open(config, program_id: str) -> bool:
    """Whether owners may sign: never on example values in production (a legal document)."""
    return not (production(config) and demo_keys(config, program_id))


def staff_notice(config) -> str | None:
    """A zh-TW notice for staff while any letters programme still has example values."""
    pending = {pid: keys for pid in letter_programmes(config) if (keys := demo_keys(config, pid))}
    if not pending:
        return None
    labels = "、".join(dict.fromkeys(label(key) for keys in pending.values() for key in keys))
    return t("campaign.staff_notice_closed" if production(config) else "campaign.staff_notice_demo", labels=labels)
