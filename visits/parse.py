"""Reading one free-text visit message from an advisor (pure: no database, no LINE).

    parse_visit_message("訪視 12345675 現地 3/10 14:00 POS教學 1.5小時", today=..., companies=[...])

Pieces are taken out of the text one kind at a time, most specific first (統編, duration, date,
time, mode), so "1.5小時" is never read as the date 1/5 or the time 5時; whatever text is left
names the company (exact, then fuzzy among *this advisor's* companies) and the topics.
Dates and times are read by dialogs.parsing (shared with the other flows).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, time, timedelta

from rapidfuzz import fuzz

from dialogs.parsing import cn_to_int, parse_date, parse_time, weekday_date

# Words for the three visit modes (輔導方式: 現地 / 線上 / 電話), as advisors type them.
MODE_WORDS: dict[str, tuple[str, ...]] = {
    "onsite": ("現地", "實地", "到店", "到府", "到場", "現場", "親訪", "拜訪", "實體", "面訪", "臨櫃", "onsite",
               "on-site", "到現場", "去店裡", "店訪"),
    "online": ("線上", "視訊", "遠端", "遠距", "googlemeet", "meet", "zoom", "teams", "webex", "online",
               "line視訊", "網路會議", "視頻"),
    "phone": ("電話", "通話", "致電", "打電話", "phone", "call", "語音通話"),
}
# Filler words that start or decorate a visit message; removed before looking for the company.
FILLER = ("登錄訪視", "登記訪視", "紀錄訪視", "記錄訪視", "訪視紀錄", "訪視記錄", "訪視", "輔導紀錄", "輔導記錄",
          "輔導", "拜訪", "去了", "今天去", "有去")

# Words left alone once the shop, date and mode are taken out of 「今天去阿明麵店…」「幫小花花店設定POS」:
# not what the visit was about.
PARTICLES = frozenset((*"去到在有和跟與及幫替給為的了陪", "那邊", "那裡", "這邊", "那", "一起"))

# Characters that say what kind of shop a name is, not which: a shortened name made of them only
# (「的店」「小舖」) names no shop in particular.
SHOP_KIND = frozenset("的之小店館舘舖鋪行坊社屋家吃攤號")
# What may stand right before or after a shop's name inside a sentence (「去阿民咖啡館」「花店和…」):
# a shortened or mistyped name glued to other words (「晨光咖啡館」「做美甲作品集」) is part of them.
_BEFORE_NAME = frozenset("去到在幫替給陪和跟與及")
_AFTER_NAME = frozenset("和跟與及的了")

TAX_ID = re.compile(r"(?<!\d)(\d{8})(?!\d)")
_NUM = r"(\d+(?:\.\d+)?|[一二兩三四五六七八九十半]+)"
DURATION = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?|[一二兩三四五六七八九十]+)\s*(?:個)?(?P<half>半)?\s*(?:小時|hr|hrs|h|鐘頭)"
    r"(?:\s*(?P<hm>\d+|[一二三四五六七八九十]+)\s*(?:分鐘|分))?)"
    r"|(?:(?P<halfhour>半)\s*(?:個)?\s*(?:小時|鐘頭))"
    r"|(?:(?P<m>\d+|[一二三四五六七八九十]+)\s*(?:分鐘|min|mins|minutes))", re.IGNORECASE)
DATE_SPAN = re.compile(
    r"(?:民國)?\d{2,4}[/.\-年]\d{1,2}[/.\-月]\d{1,2}[日號]?"
    r"|\d{1,2}[/月]\d{1,2}[日號]?"
    r"|大後天|今天|今日|昨天|昨日|前天|明天|明日|後天|(?:這|本|上|下)?(?:週|周|星期|禮拜)[一二三四五六日天]")
_WEEKDAY = re.compile(r"(這|本|上|下)?(?:週|周|星期|禮拜)([一二三四五六日天])")
# One visit lasts between these (minutes); 「30小時」 is a typo, not a visit.
DURATION_RANGE = (5, 12 * 60)
TIME_SPAN = re.compile(
    r"(?:凌晨|清晨|早上|上午|中午|下午|傍晚|晚上)?\s*\d{1,2}[:：]\d{2}"
    r"|(?:凌晨|清晨|早上|上午|中午|下午|傍晚|晚上)?\s*[0-9一二三四五六七八九十]{1,3}[點点](?:半|[0-9一二三四五六七八九十]{1,3}分?)?")
_PUNCT = " \t\n,，、。.;；:：!！~～-—()（）[]「」『』"


@dataclass(frozen=True)
class CompanyRef:
    id: int
    name: str
    tax_id: str | None = None


@dataclass
class ParsedVisit:
    company_ids: list[int] = field(default_factory=list)  # one: found; several: ask which
    company_text: str = ""  # what looked like a company but matched none of the advisor's
    visit_date: date | None = None
    visit_time: time | None = None
    mode: str | None = None
    duration_minutes: int | None = None
    topics: str = ""
    future_date: bool = False
    bad_date: str = ""  # a date as typed that is no day (「2/30」)
    bad_duration: str = ""  # a duration as typed that is no visit's (「30小時」)
    other_company_ids: list[int] = field(default_factory=list)  # more shops named: offered a visit each
    # The shop was guessed from a shortened or mistyped name: only offered (「哪一家？」), as a wrong
    # guess would save the visit for another shop (「晨光咖啡館」 is not 阿明咖啡館).
    guessed: bool = False

    def as_answers(self) -> dict:
        """The flow's answers known from the message (dialog step name -> value)."""
        answers: dict = {}
        if len(self.company_ids) == 1 and not self.guessed:
            answers["company"] = self.company_ids[0]
        elif self.company_ids:
            answers["_candidates"] = self.company_ids
        if self.visit_date and not self.future_date:
            answers["date"] = self.visit_date.isoformat()
            answers["time"] = self.visit_time.strftime("%H:%M") if self.visit_time else ""
        if self.mode:
            answers["mode"] = self.mode
        if self.duration_minutes:
            answers["duration"] = self.duration_minutes
        if self.topics:
            answers["topics"] = self.topics
        if self.other_company_ids:
            answers["_others"] = self.other_company_ids
        return answers


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def _key(text: str) -> str:
    return "".join(_norm(text).lower().split())


def _to_number(raw: str) -> float | None:
    if raw is None:
        return None
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        return float(raw)
    value = cn_to_int(raw)
    return float(value) if value is not None else None


def parse_duration(text: str) -> int | None:
    """'1.5小時' / '一個半小時' / '90分鐘' / '2h' / '半小時' / '1小時30分' -> minutes."""
    match = DURATION.search(_norm(text))
    return _duration_of(match) if match else None


def _duration_of(match: re.Match) -> int | None:
    if match.group("halfhour"):
        return 30
    if match.group("h") is not None:
        hours = _to_number(match.group("h"))
        if hours is None:
            return None
        minutes = hours * 60 + (30 if match.group("half") else 0)
        if match.group("hm"):
            extra = _to_number(match.group("hm"))
            minutes += extra or 0
        return int(round(minutes)) or None
    if match.group("m") is not None:
        value = _to_number(match.group("m"))
        return int(value) if value else None
    return None


def parse_mode(text: str) -> str | None:
    key = _key(text)
    for mode in ("phone", "online", "onsite"):  # "線上拜訪": online wins over 拜訪
        if any(word in key for word in MODE_WORDS[mode]):
            return mode
    return None


def _remove_mode_words(text: str) -> str:
    words = sorted((w for ws in MODE_WORDS.values() for w in ws), key=len, reverse=True)
    for word in words:
        text = re.sub(re.escape(word), " ", text, flags=re.IGNORECASE)
    return text


def weekday_alone(text: str) -> re.Match | None:
    """「上週五」「星期三」: a date given by its weekday only."""
    week = _WEEKDAY.search(_norm(text))
    return week if week and not re.search(r"\d", _norm(text)) else None


def resolve_visit_date(text: str, *, today: date) -> tuple[date | None, bool]:
    """(date, is_future). A month/day without a year that would be in the future means last year,
    and a weekday alone the last one (an advisor logs what already happened): on a Sunday 「週五」 is
    two days ago and 「上週五」 the Friday of the week before."""
    week = weekday_alone(text)
    if week:
        found = weekday_date(week.group(1), week.group(2), today=today, past=True)
        return found, found > today
    found = parse_date(text, today=today)
    if found is None:
        return None, False
    has_year = bool(re.search(r"\d{2,4}[/.\-年]\d{1,2}[/.\-月]\d{1,2}", _norm(text)))
    if found > today and not has_year and re.search(r"\d{1,2}[/月]\d{1,2}", _norm(text)):
        try:
            found = found.replace(year=found.year - 1)
        except ValueError:
            found = found - timedelta(days=365)
    return found, found > today


def match_companies(text: str, companies: list[CompanyRef], *, threshold: float = 80, near: bool = True) -> list[int]:
    """Companies the text names: 統編, exact name, the name inside the text, fuzzy (rapidfuzz), then
    (``near``) a name with a typo or shortened inside it. Returns the best candidates (several when
    it is a close call)."""
    key = _key(text)
    if not key or not companies:
        return []
    tax = TAX_ID.search(key)
    if tax:
        hits = [c.id for c in companies if c.tax_id == tax.group(1)]
        if hits:
            return hits
    exact = [c.id for c in companies if _key(c.name) == key]
    if exact:
        return exact
    inside = [c for c in companies if c.name and len(_key(c.name)) >= 2 and _key(c.name) in key]
    if inside:
        longest = max(len(_key(c.name)) for c in inside)
        return [c.id for c in inside if len(_key(c.name)) == longest]
    scored = []
    for company in companies:
        name = _key(company.name)
        if not name:
            continue
        score = max(fuzz.ratio(name, key), fuzz.partial_ratio(name, key) if len(key) >= 2 else 0)
        if score >= threshold:
            scored.append((score, company.id))
    if not scored:
        return near_names(key, companies, shortened=False)[0] if near else []
    scored.sort(reverse=True)
    best = scored[0][0]
    return [cid for score, cid in scored if score >= best - 5][:10]


def _stands_alone(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is a token of its own: at an edge, a space or punctuation, or a
    particle (``_BEFORE_NAME`` / ``_AFTER_NAME``) on each side."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return (before.isspace() or before in _PUNCT or before in _BEFORE_NAME) and \
        (after.isspace() or after in _PUNCT or after in _AFTER_NAME)


def near_names(text: str, companies: list[CompanyRef], *, shortened: bool = True) -> tuple[list[int], str]:
    """Names inside ``text`` typed with one wrong character (「阿明面店」 for 阿明麵店: a Zhuyin
    keyboard's homophone) or (``shortened``) cut to their start or end (「花店」 for 小花花店,
    「早午餐」 for 晨光早午餐), the piece saying more than what kind of shop (「的店」 names none):
    (the companies, the piece of ``text`` that named them). A whole answer that is a shortened name
    is rapidfuzz's partial match already; this finds a name in a sentence, standing as its own token
    (``_stands_alone``)."""
    key = _norm(text).lower()
    typos = []
    for company in companies:
        name = _key(company.name)
        if len(name) < 4:
            continue  # one character in three is a different name
        for start in range(len(key) - len(name) + 1):
            window = key[start:start + len(name)]
            if sum(a != b for a, b in zip(window, name)) == 1 and _stands_alone(key, start, start + len(name)):
                typos.append((company.id, window))
                break
    if typos or not shortened:
        return [cid for cid, _ in typos], typos[0][1] if typos else ""
    best, found, piece = 0, [], ""
    for company in companies:
        name = _key(company.name)
        for size in range(len(name) - 1, max(2, (len(name) + 1) // 2) - 1, -1):
            hit = next((part for part in (name[:size], name[-size:]) if not set(part) <= SHOP_KIND
                        and any(_stands_alone(key, m.start(), m.end()) for m in re.finditer(re.escape(part), key))),
                       None)
            if hit:
                if size > best:
                    best, found, piece = size, [company.id], hit
                elif size == best:
                    found.append(company.id)
                break
    return found, piece


def _name_part(token: str, name: str) -> str:
    """The part of a token that names the shop (「到阿民咖啡館教LINE」 → 「阿民咖啡館」): what else
    the token says is the visit's topics, not part of the name."""
    if len(token) <= len(name) + 1:
        return token
    aligned = fuzz.partial_ratio_alignment(name, token.lower())
    return token[aligned.dest_start:aligned.dest_end] or token


def parse_visit_message(text: str, *, today: date, companies: list[CompanyRef]) -> ParsedVisit:
    result = ParsedVisit()
    rest = _norm(text)

    tax = TAX_ID.search(rest)
    if tax:
        hits = [c.id for c in companies if c.tax_id == tax.group(1)]
        result.company_ids = hits
        if not hits:
            result.company_text = tax.group(1)
        rest = rest[:tax.start()] + " " + rest[tax.end():]

    duration = DURATION.search(rest)
    if duration:
        minutes = _duration_of(duration)
        if minutes and DURATION_RANGE[0] <= minutes <= DURATION_RANGE[1]:
            result.duration_minutes = minutes
        else:
            result.bad_duration = duration.group(0).strip()
        rest = rest[:duration.start()] + " " + rest[duration.end():]

    date_span = DATE_SPAN.search(rest)
    if date_span:
        result.visit_date, result.future_date = resolve_visit_date(date_span.group(0), today=today)
        if result.visit_date is None:
            result.bad_date = date_span.group(0)
        rest = rest[:date_span.start()] + " " + rest[date_span.end():]

    time_span = TIME_SPAN.search(rest)
    if time_span:
        result.visit_time = parse_time(time_span.group(0))
        if result.visit_time is not None:
            rest = rest[:time_span.start()] + " " + rest[time_span.end():]

    result.mode = parse_mode(rest)
    rest = _remove_mode_words(rest)
    for word in sorted(FILLER, key=len, reverse=True):
        rest = rest.replace(word, " ")

    if not tax:
        rest = _take_company(rest, companies, result)
    parts = (part.strip(_PUNCT) for part in rest.split())
    result.topics = " ".join(part for part in parts if part and part not in PARTICLES)[:500]
    return result


def _take_company(rest: str, companies: list[CompanyRef], result: ParsedVisit) -> str:
    """Find the company in what is left and cut it out; the remainder is the topics."""
    # 1) a company name appearing verbatim (spaces or not): the first one typed, and any other the
    # visit was shared with (「阿明麵店和小花花店」); a name inside a longer one named is not another
    names = {c.name for c in companies if c.name and c.name in rest}
    names = sorted((n for n in names if not any(n != other and n in other for other in names)), key=rest.index)
    if names:
        result.company_ids = [c.id for c in companies if c.name == names[0]]
        result.other_company_ids = [c.id for name in names[1:5] for c in companies if c.name == name][:4]
        for name in names[:5]:
            rest = rest.replace(name, " ", 1)
        return rest
    # 2) a whitespace-separated token that fuzzily names one (typos, 簡稱)
    tokens = [tok.strip(_PUNCT) for tok in rest.split()]
    best: tuple[float, str, list[int]] | None = None
    for token in tokens:
        if len(token) < 2:
            continue
        ids = match_companies(token, companies, near=False)  # a near name cuts only its piece (3)
        if ids:
            name = _key(next(c.name for c in companies if c.id == ids[0]))
            score = fuzz.ratio(name, _key(token))
            if best is None or score > best[0]:
                best = (score, _name_part(token, name), ids)
    if best:
        # Not the name as it is (「阿民咖啡館」「幫咖啡館」): offered, not taken.
        result.company_ids, result.guessed = best[2], not any(_key(c.name) in _key(best[1]) for c in companies
                                                               if c.id in best[2])
        return rest.replace(best[1], " ", 1)
    # 3) a name inside a longer piece, with a typo or shortened (「到阿明面店教」「幫花店設定」)
    ids, piece = near_names(rest, companies)
    if ids:
        result.company_ids, result.guessed = ids, True
        return rest.replace(piece, " ", 1) if piece in rest else rest
    # 4) the first token is probably the company (for the "not one of yours" message)
    if tokens and companies:
        result.company_text = tokens[0] if len(tokens) > 1 else ""
    return rest
