"""Pure helpers that read owners' free-text chat answers (zh-TW, as typed on a phone).

Every parser returns None when it can't tell, so the flow asks again rather than guess.
Full-width digits and punctuation are accepted everywhere; years may be ROC (民國).
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, time, timedelta

_CN_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "兩": 2, "倆": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_CHARS = "".join(_CN_DIGITS) + "".join(_CN_UNITS)
ROC_OFFSET = 1911  # 民國 = AD - 1911


def normalize(text: str | None) -> str:
    """NFKC (full-width -> half-width), lower-case, whitespace removed."""
    if text is None:
        return ""
    return "".join(unicodedata.normalize("NFKC", str(text)).lower().split())


# LINE's location messages write the address as 「407台灣台中市西屯區…」: postal code and country first.
_ADDRESS_PREFIX = re.compile(r"^\s*\d{3,6}\s*(台灣|臺灣|中華民國)?\s*|^\s*(台灣|臺灣|中華民國)\s*")


def strip_address_prefix(text: str) -> str:
    """An address without a leading postal code and country (as LINE's shared location gives it)."""
    return _ADDRESS_PREFIX.sub("", text or "", count=1)


def cn_to_int(chars: str) -> int | None:
    """'二十五' -> 25, '十二' -> 12, '兩' -> 2, '一百零五' -> 105, '12' -> 12.
    Two bare digits in a row ('兩三', '五六') are a range, not a number -> None."""
    if not chars:
        return None
    if chars.isdigit():
        return int(chars)
    total, current, last_was_digit = 0, 0, False
    for ch in chars:
        if ch in _CN_DIGITS:
            if last_was_digit and _CN_DIGITS[ch] != 0 and current != 0:
                return None  # '兩三' = two or three
            current = _CN_DIGITS[ch]
            last_was_digit = True
        elif ch in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[ch]
            current, last_was_digit = 0, False
        else:
            return None
    return total + current


# --- counts ---------------------------------------------------------------------

_ALONE = re.compile(r"只有我|就我|我自己|自己一個|自己一人|我一個|我一人|一人公司|一人店|老闆自己|沒有?請人|沒有?員工|"
                    r"沒有?其他人|都我自己|自己做")
_NONE = re.compile(r"^(沒有|沒|無|零|0|nobody|none)[個位名人]?$")
_VAGUE = re.compile(r"幾|多|左右|以上|以下|不到|至少|差不多|上下|大概|大約|約|應該|可能")
_WITH_OTHERS = re.compile(r"跟|和|加上?|還有|以及|與")
_RANGE = re.compile(r"\d+\s*[-~～到至]\s*\d+|[" + _CN_CHARS + r"]+[到至~-][" + _CN_CHARS + r"]+")
_NUMBER = re.compile(r"\d+|[" + _CN_CHARS + r"]+")
# 「一共」「一起」「一直」: the 一 of a word, not a count (「老師加行政一共6個人」 is 6).
_ONE_OF_A_WORD = re.compile(r"一(?=共|起|般|直|定|樣|律)")


def parse_count(text: str | None) -> int | None:
    """Number of regular employees besides the owner, or None if unclear.

    '5人' / '五個人' / '十二位' / '25' -> the number; '只有我自己', '沒請人' -> 0
    (the owner is not an employee, 002 貳一 counts 經常性僱用員工);
    ranges and approximations ('兩三個', '十幾個', '5到6人', '大概十個以上') -> None.
    """
    t = normalize(text)
    if not t:
        return None
    if _RANGE.search(t) or re.match(r"[-−負]", t):
        return None  # a range, or below zero (「-3」 is no headcount, not 3)
    if _ALONE.search(t) and _WITH_OTHERS.search(t):
        return None  # '就我跟老婆': is she on the payroll? ask
    numbers = _NUMBER.findall(_ONE_OF_A_WORD.sub("", t))
    values = [cn_to_int(n) for n in numbers]
    if any(v is None for v in values):
        return None  # e.g. '兩三'
    if _VAGUE.search(t) and values:
        return None
    if not values or (_ALONE.search(t) and values in ([1], [0])):
        # '我一個人' / '只有我' -> 0; a bare '沒有' -> 0
        if _ALONE.search(t) or _NONE.match(t):
            return 0
        return None
    if len(set(values)) > 1:
        return None  # '3個正職2個兼職': let the flow ask
    return values[0]


# --- not an answer to a free-text question ----------------------------------------------
# 「謝謝」「好的」「不知道」 typed where a name, a product or a trade is asked: a word to the bot, not
# the answer (a signer called 「謝謝」 would go onto the signed letter). The words are the FAQ's
# small talk and intents.yaml's ``non_answer`` (a "don't know", a "wait"): one list, read here.
@functools.cache
def _non_answer() -> tuple[re.Pattern, re.Pattern]:
    """(the whole text is made of these words and small talk's filler, one of them is there)."""
    import yaml

    from knowledge.query import INTENTS_FILE, alternation

    data = yaml.safe_load(INTENTS_FILE.read_text(encoding="utf-8")) or {}
    words = [*(unit for units in (data.get("small_talk") or {}).values() for unit in units),
             *(data.get("non_answer") or ())]
    return alternation([*words, *(data.get("small_talk_filler") or ())], whole=True), alternation(words)


def is_non_answer(text: str | None) -> bool:
    """The whole text is small talk (a thanks, an ok, a greeting…, 「謝謝你」 with its filler) or a
    "don't know"."""
    plain = normalize(text).rstrip("!！~～。.…")
    whole, word = _non_answer()
    return bool(plain) and bool(whole.match(plain)) and bool(word.search(plain))


# A number alone, perhaps with what it counts (「五個人」「-3」「999」「3人」): an answer to how many,
# never a name, a shop, a trade or a product.
_FIGURE_ALONE = re.compile(r"[-+−負]?[0-9０-９" + _CN_CHARS + r"萬.,，]+(個|位|名|人|家|間|張|筆|次|元|塊)*")


def is_figure(text: str | None) -> bool:
    return bool(_FIGURE_ALONE.fullmatch(normalize(text).rstrip("!！~～。.…")))


def words_refusal(text: str, invalid: str) -> str | None:
    """Why ``text`` is no name, shop, trade or product where one is asked (small talk, or a number:
    「五個人」 answers another question), as the message to show with the step's own ``invalid``;
    None when it may be one."""
    from bot.texts import t

    if is_non_answer(text):
        return invalid
    if is_figure(text):
        return t("core.figure_not_words", text=text[:20]) + invalid
    return None


# --- contact details sent on their own ------------------------------------------------------
_DETAILS = (
    ("email", re.compile(r"^[a-z0-9._%+\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)*\.[a-z]{2,}$")),
    ("phone", re.compile(r"^(\+?886|0)9\d{8}$|^0\d{8,9}(#\d{1,6})?$")),
    ("tax_id", re.compile(r"^\d{8}$")),
    ("url", re.compile(r"^(https?://|www\.)[^\s]+$")),
    # a street address ends in its number: 「…路100號」「…號3樓」 (「台北市說明會是幾號」 does not)
    ("address", re.compile(r"^(\d{3,6})?(台灣|臺灣)?[^\s]{1,3}(市|縣)[^\s]{0,4}(區|鄉|鎮|市)?[^\s]*(路|街|大道|巷|弄)"
                           r"[^\s]*\d+號(\d+樓)?(之\d+)?$")),
)
# Contact details carry no question word; 「…這個連結打不開」 or 「幾號」 is a question.
_ASKING = re.compile(r"[?？嗎呢]|幾|什麼|怎麼|哪|可以|能不能|不能|打不開")


def detail_kind(text: str | None) -> str | None:
    """"email" / "phone" / "tax_id" / "url" / "address" when the whole message is one such detail
    (「0912345678」「ming@gmail.com」「台南市永康區中正路100號」), else None."""
    raw = normalize(text)
    if not raw or _ASKING.search(raw):
        return None
    value = re.sub(r"[\-()（）]", "", raw)  # phone separators; normalize() already removed spaces
    return next((kind for kind, pattern in _DETAILS if pattern.match(value)), None)


# --- yes / no -----------------------------------------------------------------

_UNSURE_WORDS = (r"不確定|不知道|不清楚|不太清楚|不曉得|不記得|忘了|忘記|好像|可能|應該|也許|"
                 r"大概|或許|不太懂|不懂|看不懂|不一定|不太確定|unsure|notsure|dunno|idk")
_UNSURE = re.compile(_UNSURE_WORDS + r"|\?|？")
_DONT_KNOW = re.compile(r"^(我)?(也)?(" + _UNSURE_WORDS + r")(耶|欸|啊|呢|捏|餒)?$")
_YES_FIRST = re.compile(r"沒錯|沒問題|是的|對的|當然")
_NO = re.compile(r"沒有|沒|不是|不用|不要|不對|不行|不會|不曾|未曾|否|^無|^no|^nope|^n$|^不$|錯")
_YES = re.compile(r"有|是|對|要|好|可以|嗯|恩|yes|^y$|^ok|^okay|yep|對啊|沒錯")


# A whole answer that says "no" or "I don't have it" (「沒有」「不用了」); 「不錯」「沒事了」 are small talk.
_NO_ANSWER = re.compile(r"^(我|我們)?(還)?(沒有|沒|無|不用|不要|不需要|沒辦法)(了|耶|喔|欸|啦)?[.。!！~～]*$")


def says_no_or_unsure(text: str | None) -> bool:
    """Mid-form, an answer of its own even where the step cannot take it (a 統編): the step says
    what to do, not the small-talk reply."""
    return bool(_NO_ANSWER.match("".join((text or "").split()))) or is_unsure(text)


def is_unsure(text: str | None) -> bool:
    """The whole answer is 「不知道」「我不確定耶」「看不懂」: the person cannot answer as asked
    (a sentence that only contains such a word, or a question, is not)."""
    return bool(_DONT_KNOW.match(normalize(text).lower().replace(" ", "")))


def parse_yes_no(text: str | None) -> bool | str | None:
    """True / False / "unsure" / None (no recognisable answer)."""
    t = normalize(text)
    if not t:
        return None
    if _UNSURE.search(t):
        return "unsure"
    if _YES_FIRST.search(t):
        return True
    if _NO.search(t):
        return False
    if _YES.search(t):
        return True
    return None


# --- registration (002 貳一) ------------------------------------------------------

# 「沒開公司」「沒有辦商業登記」: a negator, perhaps with the verb of registering, right before the word
_NEGATION = re.compile(r"(沒有|沒|無|未|不是|並非|非)(開|辦|申請|設|設立|去辦)?$")
_REG_KEYWORDS = (
    ("company", re.compile(r"公司登記|股份有限公司|有限公司|公司")),
    # 有限合夥 (limited partnership) is also a registration the 中小企業認定標準 accepts;
    # the programme's answer values have no own slot for it, so it maps to business.
    ("business", re.compile(r"商業登記|行號|商號|獨資|合夥|營利事業登記")),
    ("tax_only", re.compile(r"稅籍|報稅|稅號")),
)
_REG_NONE = re.compile(r"都沒|沒有登記|沒登記|沒辦登記|沒有辦|沒辦|無登記|未登記|沒有任何|什麼都沒|沒有$|^無$|^沒$")


def _positive_match(pattern: re.Pattern, t: str) -> bool:
    for m in pattern.finditer(t):
        if not _NEGATION.search(t[max(0, m.start() - 3):m.start()]) and \
                not _NEGATION.search(t[max(0, m.start() - 3):m.start()].replace("有", "")):
            return True
    return False


def parse_registration(text: str | None) -> str | None:
    """'company' | 'business' | 'tax_only' | 'none' | None (unclear -> ask again).
    A negated mention ('沒有公司登記，只有稅籍') does not count."""
    t = normalize(text)
    if not t:
        return None
    for value, pattern in _REG_KEYWORDS:  # strongest registration wins
        if _positive_match(pattern, t):
            return value
    if _REG_NONE.search(t) or re.search(r"(沒有|沒|無|未)(辦|申請)?稅籍", t):
        return "none"  # tax registration is the minimum; without it there is none
    return None


# --- dates and times (Asia/Taipei business dates) ------------------------------

_RELATIVE_DAYS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "後天": 2, "昨天": -1, "昨日": -1,
                  "前天": -2, "大後天": 3}
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
# (?!\d): the day is whole (see _dates_and_times).
_YMD = re.compile(r"(?:民國)?(\d{2,4})[/.\-年](\d{1,2})[/.\-月](\d{1,2})(?!\d)[日號号]?")
_MD = re.compile(r"(\d{1,2})[/.\-月](\d{1,2})(?!\d)[日號号]?")
_WEEK = re.compile(r"(這|本|下|下下)?(?:週|周|星期|禮拜)([一二三四五六日天])")


def _year(raw: str) -> int:
    value = int(raw)
    return value + ROC_OFFSET if value < 1000 else value  # 112 -> 2023


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _dates_and_times(text: str | None) -> str:
    """Like ``normalize``, but a space between two numbers stays (it ends one: 「5/1 14:00」 is May 1
    at 14:00 and 「12/7 10點」 is 10 o'clock, where 「5/114:00」 read as 5/11 and 「710點」 as nothing);
    spaces around a separator or a word go (「3 / 10」, 「下午 3 點」)."""
    t = " ".join(unicodedata.normalize("NFKC", str(text or "")).lower().split())
    return re.sub(r"(?<=\d) (?=\d)", "\x00", t).replace(" ", "").replace("\x00", " ")


def parse_date(text: str | None, *, today: date) -> date | None:
    """今天/明天/昨天/後天, 3/10, 3月10號, 112/3/10, 112年3月10日, 2023-03-10,
    (下)週三. A month/day without a year means this year (`today`'s)."""
    t = _dates_and_times(text)
    if not t:
        return None
    for word in sorted(_RELATIVE_DAYS, key=len, reverse=True):
        if word in t:
            return today + timedelta(days=_RELATIVE_DAYS[word])
    m = _YMD.search(t)
    if m:
        return _safe_date(_year(m.group(1)), int(m.group(2)), int(m.group(3)))
    m = _MD.search(t)
    if m:
        return _safe_date(today.year, int(m.group(1)), int(m.group(2)))
    m = _WEEK.search(t)
    if m:
        return weekday_date(m.group(1), m.group(2), today=today)
    return None


_WEEK_OFFSETS = {"上": -1, "下": 1, "下下": 2}


def weekday_date(week: str | None, day: str, *, today: date, past: bool = False) -> date:
    """The day 「(上|下|下下)週<day>」 names. A bare weekday (「週三」) is the next one to come, or with
    ``past`` the last one that went (an advisor logs what already happened)."""
    monday = today - timedelta(days=today.weekday())
    target = monday + timedelta(weeks=_WEEK_OFFSETS.get(week or "", 0), days=_WEEKDAYS[day])
    if not week and not past and target < today:
        target += timedelta(weeks=1)
    if not week and past and target > today:
        target -= timedelta(weeks=1)
    return target


_HHMM = re.compile(r"(\d{1,2})[:：](\d{2})")
_PERIOD = re.compile(r"(凌晨|清晨|早上|上午|中午|下午|傍晚|晚上|夜間|晚間|am|pm)")
_CLOCK = re.compile(r"([0-9" + _CN_CHARS + r"]{1,3})[點点時](半|([0-9" + _CN_CHARS + r"]{1,3})分?)?")


def _apply_period(hour: int, period: str | None) -> int:
    if period in ("下午", "傍晚", "晚上", "夜間", "晚間", "pm") and hour < 12:
        return hour + 12
    if period == "中午" and hour < 6:
        return hour + 12
    if period in ("凌晨", "清晨", "早上", "上午", "am") and hour == 12:
        return 0
    if period is None and 1 <= hour <= 6:
        # Visits and calls happen in business hours: a bare '2點半' means 14:30.
        return hour + 12
    return hour


def parse_time(text: str | None) -> time | None:
    """14:00, 下午2點, 2點半 (-> 14:30), 早上9點15分, 晚上七點, 中午12點."""
    t = _dates_and_times(text)
    if not t:
        return None
    period_match = _PERIOD.search(t)
    period = period_match.group(1) if period_match else None
    m = _HHMM.search(t)
    if m:
        hour, minute = int(m.group(1)), int(m.group(2))
        if period:
            hour = _apply_period(hour, period)
    else:
        m = _CLOCK.search(t)
        if not m:
            return None
        hour = cn_to_int(m.group(1))
        if m.group(2) == "半":
            minute = 30
        elif m.group(3):
            minute = cn_to_int(m.group(3))
        else:
            minute = 0
        if hour is None or minute is None:
            return None
        hour = _apply_period(hour, period)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


# --- amounts (figures owners report: 營業額, 會員數, 好友數 …) -------------------------------------

@dataclass(frozen=True)
class Amount:
    """A figure read from chat. ``approximate`` when the owner said so (「大約」「兩百多」「三到五萬」):
    the value is then the stated figure, the lower bound of 「…多」 or the middle of a range."""

    value: float
    approximate: bool = False

    @property
    def number(self) -> int | float:
        return int(self.value) if float(self.value).is_integer() else self.value


# Filler and hedges people add around a figure; removed before reading it.
_AMOUNT_FILLER = re.compile(r"(吧|啦|喔|哦|耶|囉|呢|唷|欸|哈+|嗯+|整|而已|的樣子|上下|左右|以上|出頭)")
_APPROX_WORDS = re.compile(r"大約|大概|約|差不多|將近|接近|快要?|應該|估計|左右|上下|以上|出頭|多|幾")
_TOO_VAGUE = re.compile(r"不到|以下|不超過|最多|很多|一些|一點點|沒多少|不少")
_NEGATIVE = re.compile(r"^(-|負|減少|少了|掉了|虧)")
# Units the figure may carry: removed (the caller converts its own units with ``units``).
_PLAIN_UNITS = ("塊錢", "新台幣", "新臺幣", "ntd", "nt$", "nt", "$", "元", "塊", "圓", "人次", "人", "位", "個", "名",
                "則", "篇", "張", "筆", "次", "份", "件", "單", "組", "顆", "杯", "碗", "份")
_CN_NUMERAL = "〇零一二兩三四五六七八九十百千萬億壹貳參肆伍陸柒捌玖拾佰仟点點万亿两"
_GROUP = re.compile(r"[0-9.]+[" + _CN_NUMERAL + r"]*[0-9.]*[" + _CN_NUMERAL + r"]*|[" + _CN_NUMERAL + r"]+[0-9.]*["
                    + _CN_NUMERAL + r"]*")
_SPOKEN_RANGE = re.compile(r"(一二|二三|兩三|三四|四五|五六|六七|七八|八九)(?=[十百千萬]|$)")
_RANGE_SEP = re.compile(r"^(.+?)(?:-|~|～|到|至)(.+)$")


def _numeral_value(chars: str) -> float | None:
    """'3萬' / '1.5萬' / '三千五' / '兩萬五' / '三點五萬' -> the number (cn2an, smart mode)."""
    import cn2an

    chars = chars.replace("點", "点")  # cn2an reads 「三点五」; digits keep their "." (「1.5萬」)
    if not chars or chars.strip(".点") == "" or chars.count(".") + chars.count("点") > 1:
        return None
    try:
        return float(cn2an.cn2an(chars, "smart"))
    except (ValueError, KeyError, IndexError):
        pass
    # 「三.五萬」: cn2an reads neither Chinese decimals nor a unit after them; split at the unit.
    match = re.match(r"^(.+?)([萬万億亿千])$", chars)
    if match:
        head = _numeral_value(match.group(1))
        scale = {"萬": 1e4, "万": 1e4, "億": 1e8, "亿": 1e8, "千": 1e3}[match.group(2)]
        return head * scale if head is not None else None
    return None


def _single_amount(text: str, units: dict[str, float]) -> tuple[float, bool] | None:
    """One figure without a range: (value, approximate) or None."""
    approximate = False
    for unit in sorted(units, key=len, reverse=True):  # the caller's units (分鐘 = 60 秒, 千元 = 1000 元)
        if unit and text.endswith(unit) and len(text) > len(unit):
            amount = _single_amount(text[: -len(unit)], {})
            return (amount[0] * units[unit], amount[1]) if amount else None
    for unit in _PLAIN_UNITS:
        text = text.replace(unit, "")
    if text.endswith(("多", "幾")) and len(text) > 1 and text[-2] in "十百千萬万0123456789":
        text, approximate = text[:-1], True  # 「兩百多」 = 200 and some; 「十幾」 = 10 and some
        if text[-1].isdigit():
            return None  # 「20多」 is fine as 20+, but 「2多」 is not a figure
    if "幾" in text or "多" in text:
        return None  # 「幾百」「好多」: no figure to record
    if _SPOKEN_RANGE.search(text):
        return None  # handled as a range by the caller
    groups = _GROUP.findall(text)
    if len(groups) != 1 or groups[0] != text:
        return None
    value = _numeral_value(groups[0])
    return (value, approximate) if value is not None else None


def parse_amount(text: str | None, *, units: dict[str, float] | None = None) -> Amount | None:
    """A figure as owners type it, or None when it cannot be read as one figure.

    '30000', '3,000', '3萬', '大約 3 萬', '1.5萬', '三千五', '兩萬五', '3k', '1.5w', 'NT$30,000元' -> the
    number ('大約' and '左右' mark it approximate); '兩百多' / '十幾個' -> 200 / 10, approximate;
    a range ('三到五萬', '200-300', '兩三百') -> its middle, approximate; '沒有' / '0' -> 0;
    '-5' / '負5' / '少了5' -> negative (the caller refuses what its figure cannot be);
    too vague ('幾百', '很多', '不到一萬'), a percentage, two different figures, words -> None.
    ``units`` converts the caller's own units ({'分鐘': 60, '分': 60} for a figure in seconds).
    """
    units = {normalize(k): float(v) for k, v in (units or {}).items()}
    t = normalize(text)
    if not t:
        return None
    if re.fullmatch(r"(沒有|沒|無|零|0+)[人個位則張筆次元塊]?", t):
        return Amount(0)
    if "%" in t or "趴" in t or "百分之" in t or _TOO_VAGUE.search(t):
        return None
    # Typing slips: 'o'/'O' for 0 between digits ('3o00'), thousands separators, 'k' and 'w' (萬).
    t = re.sub(r"(?<=\d)[oO](?=[\doO]|$)", "0", t)
    t = re.sub(r"(?<=\d)[,，、'](?=\d{3})", "", t)
    t = re.sub(r"(\d(?:\.\d+)?)k", r"\1千", t)
    t = re.sub(r"(\d(?:\.\d+)?)w", r"\1萬", t)
    negative = bool(_NEGATIVE.match(t))
    t = _NEGATIVE.sub("", t)
    approximate = bool(_APPROX_WORDS.search(re.sub(r"[" + _CN_NUMERAL + r"0-9.]+(多|幾)", "", t)))
    t = re.sub(r"^(大約|大概|約|差不多|將近|接近|快要?|應該是?|估計|一個月|每個?月|上個?月|這個?月|月|營業額|營收|"
               r"會員|好友|評論|來客|客人|總共|一共|共|有|是|算|就|才)+", "", t)
    t = _AMOUNT_FILLER.sub("", t).rstrip("。.!！~～,，").lstrip("。!！~～,，")
    if not t:
        return None
    spoken = _SPOKEN_RANGE.search(t)
    if spoken:  # 「兩三百」 = 200 to 300; 「五六千」 = 5,000 to 6,000
        low_digit, high_digit = spoken.group(1)[0], spoken.group(1)[1]
        low = _single_amount(t.replace(spoken.group(1), low_digit, 1), units)
        high = _single_amount(t.replace(spoken.group(1), high_digit, 1), units)
        if low is None or high is None:
            return None
        return Amount(_signed((low[0] + high[0]) / 2, negative), True)
    ranged = _RANGE_SEP.match(t)
    if ranged:
        low, high = _single_amount(ranged.group(1), units), _single_amount(ranged.group(2), units)
        if high is None or low is None:
            return None
        low_value = low[0]
        # 「三到五萬」: the unit written once applies to both ends.
        if low_value < high[0] and re.search(r"[萬万千百]$", ranged.group(2)) and not re.search(r"[萬万千百]",
                                                                                        ranged.group(1)):
            scale = _numeral_value(re.search(r"[萬万千百]$", ranged.group(2)).group(0).join(("1", "")))
            low_value = low[0] * (scale or 1)
        if low_value > high[0]:
            return None
        return Amount(_signed((low_value + high[0]) / 2, negative), True)
    single = _single_amount(t, units)
    if single is None:
        return None
    return Amount(_signed(single[0], negative), approximate or single[1])


def _signed(value: float, negative: bool) -> float:
    return -value if negative else value
