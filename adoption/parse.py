"""Reading an advisor's one-message adoption record (pure: no database, no LINE).

    parse_adoption_message("導入 好味道小吃 LINE官方帳號 7/20", today=..., companies=[...], tools=[...],
                           period=(date(2023, 4, 1), date(2023, 11, 30)))

The date is taken out first (dialogs.parsing: 7/20, 112/7/20, 2023-07-20, 今天), then the tools
(any name or alias in programs.yaml ``campaign.tools``, spaces and width ignored), and what is left
names the company: 統編, exact or fuzzy name among the advisor's companies — the visit log's
matcher (visits.parse). A month/day without a year is read inside the programme's period: on
2024/01/05, 「7/20」 for a 112年 programme means 112/07/20.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from checkpoints.settings import Tool, squash
from dialogs.framework import has_question_marker
from dialogs.parsing import normalize, parse_amount, parse_date
from visits import parse as vp

PREFIXES = ("記錄導入", "紀錄導入", "登錄導入", "登記導入", "導入紀錄", "導入記錄", "已導入", "導入")
_HAS_YEAR = re.compile(r"\d{2,4}\s*[/.\-年]\s*\d{1,2}\s*[/.\-月]\s*\d{1,2}")
_MONTH_DAY = re.compile(r"\d{1,2}\s*[/.\-月]\s*\d{1,2}")
# Words joining two tools (「LINE官方帳號 和 POS」), left behind once the tools are taken out.
_JOINERS = re.compile(r"(?:^|(?<=\s))(?:和|跟|及|與|以及|還有|、|,|，|\+|&)(?=\s|$)")


@dataclass
class ParsedAdoption:
    company_ids: list[int] = field(default_factory=list)  # one: found; several: ask which
    company_text: str = ""  # a 統編 or name that matched none of the advisor's companies
    guessed: bool = False  # from a shortened or mistyped name: offered, not taken (visits.parse)
    tool_ids: list[str] = field(default_factory=list)
    other_text: str = ""  # words left over: an unknown tool, most likely
    day: date | None = None
    day_text: str = ""  # the date as typed (for "outside the programme" messages)


def strip_prefix(text: str) -> str:
    body = unicodedata.normalize("NFKC", text or "").strip()
    for prefix in PREFIXES:
        if body.startswith(prefix):
            return body[len(prefix):].lstrip(" :：,，")
    return body


def resolve_day(text: str, *, today: date, period: tuple[date, date] | None) -> date | None:
    """The date typed; a month/day without a year falls in the programme's period when it can, and
    a weekday alone is the last one (visits.parse: a tool started in the past)."""
    if vp.weekday_alone(text):
        return vp.resolve_visit_date(text, today=today)[0]
    found = parse_date(text, today=today)
    if found is None:
        return None
    plain = normalize(text)
    if period and not _HAS_YEAR.search(plain) and _MONTH_DAY.search(plain):
        for year in range(period[0].year, period[1].year + 1):
            try:
                candidate = found.replace(year=year)
            except ValueError:  # 2/29
                continue
            if period[0] <= candidate <= period[1]:
                return candidate
    return found


def _alias_pattern(word: str) -> re.Pattern:
    # 「LINE官方帳號」 also matches 「LINE 官方 帳號」 and 「line官方帳號」.
    chars = [re.escape(c) for c in squash(word)]
    return re.compile(r"\s*".join(chars), re.IGNORECASE)


def find_tools(text: str, tools: list[Tool]) -> tuple[list[str], str]:
    """(tool ids named in the text, the text without them). Longer names win over shorter ones."""
    rest = unicodedata.normalize("NFKC", text or "")
    words = sorted(((word, tool.id) for tool in tools for word in tool.words()), key=lambda w: len(w[0]), reverse=True)
    found: list[str] = []
    for word, tool_id in words:
        pattern = _alias_pattern(word)
        if pattern.search(rest):
            rest = pattern.sub(" ", rest)
            if tool_id not in found:
                found.append(tool_id)
    return found, rest


def parse_adoption_message(text: str, *, today: date, companies: list[vp.CompanyRef], tools: list[Tool],
                           period: tuple[date, date] | None) -> ParsedAdoption:
    result = ParsedAdoption()
    rest = strip_prefix(text)
    span = vp.DATE_SPAN.search(rest)
    if span:
        result.day_text = span.group(0)
        result.day = resolve_day(span.group(0), today=today, period=period)
        rest = rest[:span.start()] + " " + rest[span.end():]
    result.tool_ids, rest = find_tools(rest, tools)
    rest = _JOINERS.sub(" ", rest)
    named = vp.parse_visit_message(rest, today=today, companies=companies)
    result.company_ids, result.guessed = named.company_ids, named.guessed
    result.company_text = named.company_text
    result.other_text = named.topics.strip()
    if not result.company_ids and not result.company_text and result.other_text:
        result.company_text = result.other_text.split()[0]  # no company found: the words left named one
    return result


# --- a usage figure said in chat (「這個月發票開了50張」「這禮拜用POS結帳120筆」) ---------------------

COUNT_UNITS = ("張", "筆", "單", "次")  # what a tool's use is counted in (「三個月」 is how long, not how much)
_LAST_MONTH = re.compile(r"上個?月")
# Less than a month: the month's figure is not known yet.
_PART_OF_A_MONTH = re.compile(r"(這|本|上)個?(禮拜|週|周|星期)|今天|昨天|每天|一天|這幾天")
_FIGURE = r"([0-9][0-9,]*(?:\.[0-9]+)?|[零一二兩三四五六七八九十百千萬]+)({units})"


_NUMERAL = re.compile(r"[0-9零一二兩三四五六七八九十百千萬]")


def may_state_usage(text: str) -> bool:
    """Cheap first look, before any database read: a figure of use needs a number (said_usage)."""
    return bool(_NUMERAL.search(normalize(text)))


@dataclass(frozen=True)
class SaidUsage:
    figure: float
    span: str  # "last_month", "this_month" (also when no time is said) or "part" (a week, a day)
    measure: bool  # it is the usage minimum's own figure (its words), not only a tool's use


def said_usage(text: str, *, words: tuple[str, ...], unit: str, tools: list[Tool]) -> SaidUsage | None:
    """A figure of use an owner states (「這個月發票開了50張」: the usage minimum's own, by its
    ``words``; 「這禮拜用POS結帳120筆」: a tool's use, by the tool's name): one count with its unit,
    nothing asked. None for anything else (「POS用了三個月」, 「發票一個月要開幾張？」)."""
    plain = normalize(text)
    if not plain or has_question_marker(plain):
        return None
    measure = any(normalize(word) in plain for word in words if word)
    if not measure and not find_tools(plain, tools)[0]:
        return None
    units = "|".join(re.escape(u) for u in sorted({unit, *COUNT_UNITS} - {""}, key=len, reverse=True))
    found = re.findall(_FIGURE.format(units=units), plain)
    amount = parse_amount("".join(found[0])) if len(found) == 1 else None
    if amount is None or amount.value < 0:
        return None
    span = "last_month" if _LAST_MONTH.search(plain) else "part" if _PART_OF_A_MONTH.search(plain) else "this_month"
    return SaidUsage(amount.value, span, measure)
