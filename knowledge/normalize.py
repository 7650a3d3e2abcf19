"""Text normalisation shared by the FAQ index and by queries.

Both sides (knowledge-base text at index time, the user's LINE message at query
time) go through :func:`normalize_text`, so the direction of each mapping does
not matter; what matters is that variants collapse to one form:

* NFKC (full-width ASCII/digits such as ``ＡＢＣ１２３`` become ``ABC123``);
* Simplified -> Traditional (OpenCC ``s2tw``: s2t with Taiwan character forms; idioms such as 軟件/軟體 are synonyms), so a
  Simplified question matches the zh-TW entries;
* lowercase;
* punctuation, symbols, emoji and whitespace removed (LINE messages are full of
  them and they carry no retrieval signal);
* Chinese numerals before a counter become digits (三十家 -> 30家, 九人 -> 9人,
  兩百萬 -> 200萬) because the documents write counts with digits;
* a small variant/typo map (臺/台, 計劃/計畫, 佈/布 ...);
* dates and clock times written with / and : become 年月日/點 (3/16 -> 3月16日).

Everything is pure Python; OpenCC instances are created once (they are costly).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import opencc
from opencc import OpenCC

_S2T = OpenCC("s2tw")  # Taiwan characters (查核, not s2t 查覈); not s2twp: its idiom swaps (数据->資料) diverge from the documents

# Variant characters and the misspellings that are not homophones of the programme's words
# (those are read by sound, knowledge.sounds: 意相書, 輔道, 報明…): 臺/台, a slip of a general
# word (因該, 在問一下), a near-sound (顧門, 問券) or a real word (群居, 和約).  Applied after
# OpenCC, so keys are Traditional.  Direction is arbitrary but fixed.
_VARIANTS: tuple[tuple[str, str], ...] = (
    ("臺", "台"),
    ("計劃", "計畫"),
    ("佈", "布"),
    ("裏", "裡"),
    ("綫", "線"),
    ("羣", "群"),
    ("覈", "核"),
    ("着", "著"),
    ("群居", "群聚"),   # 群聚 homophone slip
    ("補足款", "補助款"),
    ("意向事", "意向書"),
    ("因該", "應該"),
    ("有云", "有雲"),   # OpenCC keeps 「詩有云」; owners mean 公有雲/私有雲 (a quote is no programme question)
    ("起迄", "起訖"),   # both are used for a period's start and end dates; the dictionary has 起訖
    ("以經", "已經"),
    ("在問一下", "再問一下"),
    ("顧門", "顧問"),
    ("祕", "秘"),
    ("甚麼", "什麼"),
    ("什麽", "什麼"),
    ("啥", "什麼"),
    ("幾間", "幾家"),
    # zhuyin slips the sound corrector does not read (a real word, a term it lacks, a near-sound)
    ("問券", "問卷"),
    ("簽屬", "簽署"),
    ("和約", "合約"),
    ("糸統", "系統"),
    ("長態", "常態"),
    ("會在來", "會再來"),
    ("在來一次", "再來一次"),
    ("在一次", "再一次"),
    ("賬號", "帳號"),
    ("多少間", "多少家"),
    # Zhuyin typed for a sentence-final particle (「要上課ㄇ」) and chat slang of young owners
    ("ㄇ", "嗎"),
    ("ㄉ", "的"),
    ("ㄋ", "呢"),
    ("ㄌ", "了"),
    ("灰常", "非常"),
    ("醬子", "這樣子"),
    ("蝦米", "什麼"),
    ("母湯", "不行"),
    # mainland usage in Simplified messages: 数字 is "digital" (数字化, 数字共好), 數位 in Taiwan
    ("數字化", "數位化"),
    ("數字共好", "數位共好"),
    ("數字群聚", "數位群聚"),
    ("數字轉型", "數位轉型"),
    ("數字工具", "數位工具"),
    ("數字能力", "數位能力"),
    ("數字券", "數位券"),
    ("數字應用", "數位應用"),
)

_DICT_DIR = Path(opencc.__file__).resolve().parent / "dictionary"


def _char_table(name: str) -> dict[int, str]:
    table: dict[int, str] = {}
    path = _DICT_DIR / name
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and len(parts[0]) == 1:
                target = parts[1].split(" ")[0]
                if len(target) == 1 and target != parts[0]:
                    table[ord(parts[0])] = target
    return table


# Character-level Traditional -> Simplified (length preserving, ~100x faster
# than OpenCC's converter); used only to help jieba segment.
_T2S_TABLE = _char_table("TSCharacters.txt")
# Characters that only exist in Simplified: text without them is already
# Traditional and skips the (slow) OpenCC phrase conversion.
def _simplified_only() -> frozenset[str]:
    out = set()
    path = _DICT_DIR / "STCharacters.txt"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            targets = [_CHAR_VARIANTS.get(t, t) for t in parts[1].split(" ")] if len(parts) == 2 else []
            # 群 -> 羣 is undone by our variant map, so 群 is not "Simplified only"
            if len(parts[0]) == 1 and targets and parts[0] not in targets:
                out.add(parts[0])
    return frozenset(out)


# Taiwanese (Hokkien) written with Chinese characters, as many owners in the south type it
# (「阮這款人數甘會太多」「按呢嘛會當報嗎」): each word becomes the Mandarin the documents use, so
# 阮 counts as 我們 and 會當 as 可以. Applied before the variant map (啥物 must not become 什麼物).
# A word that is also Mandarin is mapped only where it cannot be (閣 not after 內/樓, 擺 only as a
# count, 嘛 only before a verb, 愛 (must) only before 幾 or a form's verb, 攏 not in 靠攏/拉攏).
_TAIWANESE_WORDS = {
    "攏總": "總共", "攏無咧": "都沒在", "攏無": "都沒有", "無咧": "沒在", "攏咧": "都在", "會按怎": "會怎樣",
    "半暝": "半夜", "有無": "有沒有", "有嘸": "有沒有",
    "甘會當": "可不可以", "敢會當": "可不可以", "甘會": "會不會", "敢會": "會不會", "甘有": "有沒有",
    "敢有": "有沒有", "甘是": "是不是", "敢是": "是不是", "甘要": "要不要", "甘可以": "可不可以",
    "按呢": "這樣", "安捏": "這樣", "按怎": "怎麼", "安怎": "怎麼", "啥物": "什麼", "啥貨": "什麼",
    "會當": "可以", "會使": "可以", "袂當": "不能", "袂使": "不能", "母湯": "不行", "毋通": "不行",
    "做伙": "一起", "鬥陣": "一起", "法度": "辦法", "這款": "這種", "彼款": "那種", "啥款": "怎樣",
    "頭家娘": "老闆娘", "頭家": "老闆", "一工": "一天", "下晡": "下午", "這馬": "現在", "代誌": "事情",
    "免錢": "不用錢", "厝內": "家裡", "阮": "我們", "恁": "你們", "伊": "他", "欲": "要", "佇": "在",
    "嘸": "嗎", "袂": "不會", "毋": "不",
    "偌濟錢": "多少錢", "偌濟": "多少", "偌久": "多久", "幾工": "幾天", "逐工": "每天", "佇佗位": "在哪裡",
    "佗位": "哪裡", "佗一": "哪一", "創啥物": "做什麼", "創啥": "做什麼", "啥米": "什麼", "甘愛": "要不要",
    "敢愛": "要不要", "阮某": "我老婆", "阮翁": "我老公", "聽講": "聽說", "順紲": "順便", "無閒": "忙",
    "袂曉": "不會", "毋知": "不知道", "提去": "拿去",
}
_TAIWANESE = re.compile(
    "|".join(sorted(map(re.escape, _TAIWANESE_WORDS), key=len, reverse=True))
    + r"|(?<![內樓])閣|(?<![靠拉合])攏|嘛(?=[會要有是愛可也])|(?<=[一二兩三四五六七八九十幾\d])擺|愛(?=[幾簽填交繳寫])"
)
# the characters above mapped only in their context
_TAIWANESE_MANDARIN = {**_TAIWANESE_WORDS, "閣": "還", "攏": "都", "嘛": "也", "擺": "次", "愛": "要"}


def _taiwanese_to_mandarin(text: str) -> str:
    return _TAIWANESE.sub(lambda match: _TAIWANESE_MANDARIN[match.group(0)], text)


# The letter register of formal messages (「敬請告知本計畫之主辦機關為何」「本店是否得參加」), read as
# everyday Mandarin: its courtesies carry no topic, and its function words (之, 係, 何種, 倘…) are
# words the owners' phrasings in the knowledge base never use, so such a question matched nothing.
# Applied to the raw question (knowledge.service.ask), before punctuation is dropped (為何 at a
# clause end asks what, elsewhere why). Ordered: longer phrases first.
_FORMAL: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), plain) for pattern, plain in (
    # courtesies and letter formulas
    (r"敬啟者|順頌商祺|敬祝商祺|此致|為荷|是幸|不勝感激|感謝撥冗", ""),
    # the request formula says where the question starts: what came before it is told (「本會擬寄送
    # 資料，敬請告知其通訊地址」), as with 「請問」 (knowledge.query splits a message there)
    (r"(敬請|煩請|懇請|敬祈|惠請|謹請)(逐項|詳細|協助)?(告知|示知|說明(?!會)|見告|見復|回覆|釋疑|指教|惠復|查照)?", "，請問"),
    (r"謹此(詢問|請教|請問|說明)?", "，請問"),
    (r"尚祈(指教|見告|釋疑)|請不吝(指教|賜教)", ""),
    (r"(俾便|俾利|以利|以便)[^，,。？?；;！!\s]*", ""),
    (r"(依|據|依據)?(貴單位|文件)(之|的)?(說明|所述)|文件(中)?(所|屢次|曾)?(提及|提到|所稱|所列|所述|稱)", ""),
    # 「規範中的「資料自主權」是什麼意思」: where the quoted term was read is not the topic
    (r"(規範|簡章|須知|文件|辦法|規定|公告)(中|裡|上|裡面|內)(所說|所稱|提到|寫|說)?的(?=「)", ""),
    # who speaks and to whom
    (r"(本|敝)(店|公司|事務所|診所|藥局|民宿|工作室|商號|攤位|餐廳)", r"我們\2"),
    (r"(本|敝)(所|行)(?![得有以在屬需])", "我們"),
    (r"本人|敝人", "我"),
    (r"(本|敝)會", "我們"),
    (r"貴(單位|會|協會|處)", "你們"),
    (r"貴計畫", "這個計畫"),
    # function words
    # 「輔導期間起訖為何」 asks when, not what the period is
    (r"(?<=期間|期程|起訖|起迄|起止|時程|日期|期限|時間)(是|為)?(何|為何)(?=[，,。？?；;！!\s]|$)", "是什麼時候"),
    (r"為何(?=[，,。？?；;！!\s]|$)", "是什麼"),
    (r"為何|何以", "為什麼"),
    (r"何種|何項|何類", "什麼"),
    (r"何時", "什麼時候"),
    (r"何者", "哪個"),
    (r"何處", "哪裡"),
    (r"倘若|倘使|倘", "如果"),
    (r"抑或", "還是"),
    (r"屆時", "到時候"),
    (r"有無", "有沒有"),
    (r"是否得|得否", "是否可以"),
    (r"(?<=仍|均)得", "可以"),
    (r"(?<![關聯干維派體世])係(?![數統])", "是"),
    (r"(?<![分總反加言])之(?![後前內間外中一餘際類])", "的"),
    (r"(?<![思])惟", "但是"),
    (r"亦", "也"),
    (r"(?<![尤極與])其(?![他它中實餘次])", ""),
    (r"此(類|種|項)|此一(?!來)", lambda m: "這" + m.group(0)[1:]),
    (r"(?<![因如彼在於藉由就從至])此(?![外時後前])", "這"),
    (r"僅", "只"),
    (r"尚未", "還沒"),
    (r"尚(須|需)", "還要"),
    (r"(?<![必無毋])須(?!知)", "要"),
    (r"不甚", "不太"),
    (r"如欲|若欲", "如果想"),
    (r"欲", "想"),
    (r"擬(?![定訂稿])", "打算"),
    # 若 as "if" opens a clause or a condition (「若遇問題」); not a slip inside a word (辛若了)
    (r"(?<![\u4e00-\u9fff])若(?!干)|(?<=[\u4e00-\u9fff])若(?=[遇有是未無採需想因能經])", "如果"),
))


# Owners who dictate or chat address the bot as a person (「小姐 我想問…」「…可以嗎 先生」): the form of
# address says nothing of the question, and 小姐 is a word of the contacts entry (「林小姐」). Only at the
# very start (before a greeting, an ask or a break) or the very end (after a question's particle or a
# break), so 「我先生的店」 and 「聯絡人是林小姐嗎」 keep theirs.
_ADDRESS = "小姐|先生|老師|小編|大哥|大姐|姊姊|姐姐|美女|帥哥|阿姨"
_ADDRESS_HEAD = re.compile(rf"^\s*(?:{_ADDRESS})(?:[啊呀喔ㄚ]*)(?=\s|[，,、！!~～]|你好|您好|妳好|請問|我想|想問|問一下|我要問|我們|我是|我有|我家)")
_ADDRESS_TAIL = re.compile(rf"(?<=[嗎呢吧啊喔哦耶欸ㄟ\s，,?？！!~～])\s*(?:{_ADDRESS})[啊呀喔哦耶欸ㄟ]*[\s?？!！。.~～]*$")


def drop_address(text: str) -> str:
    """The question without a form of address to the bot at its start or end."""
    if not text:
        return text
    return _ADDRESS_TAIL.sub("", _ADDRESS_HEAD.sub("", text, count=1)) or text


def plain_register(text: str) -> str:
    """A question in the letter register read as everyday Mandarin (raw text in, raw text out).
    Only questions: the knowledge base's own wording (quotes of the documents) stays as written.
    Every rule runs on every question (about 12 µs): a hand-kept list of trigger characters in front of
    it had already missed some of the rules (得否, 惠請, 敬祈)."""
    for pattern, plain in _FORMAL:
        text = pattern.sub(plain, text)
    return text


_CHAR_VARIANTS = {src: dst for src, dst in _VARIANTS if len(src) == 1 and len(dst) == 1}
# Characters that are also Traditional but in an owner's message are nearly always the Simplified
# form (几 for 幾 in 「几家」, 云 for 雲 in 「云工具」, 种 for 種, 后 for 後 in 「之后」): they too send
# the text through OpenCC, whose phrases keep the Traditional words (茶几, 皇后).
_SIMPLIFIED_USUALLY = frozenset("几云种后")
_SIMPLIFIED_ONLY = _simplified_only() | _SIMPLIFIED_USUALLY

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "兩": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
# Counters after which a Chinese numeral is a count (or an amount/ordinal the
# documents write with digits).  Deliberately excludes 大/種/位 etc. whose
# phrases (三大電信, 一位) are fixed expressions in the seeds.
_COUNTERS = "家人名個次項年月日天份式類級成萬元週周號條點場間位%"
_NUM_RUN = re.compile(rf"([零〇一二兩三四五六七八九十百千]+)(?=[{_COUNTERS}])")

# Anything that is not a letter/number (Unicode categories L*, N*) is dropped:
# punctuation (P*), symbols incl. emoji (S*), separators (Z*), controls (C*).
_KEEP_CATEGORIES = ("L", "N")


def chinese_numeral_to_int(text: str) -> int | None:
    """Parse a small Chinese numeral (0..9999); None if it is not well formed."""
    if not text:
        return None
    if all(ch in _CN_DIGITS for ch in text) and len(text) > 1:
        # Digit-by-digit reading such as 一一〇 (110).
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total, current = 0, None
    for ch in text:
        if ch in "零〇" and current is None:
            continue  # placeholder zero: 一百零五
        if ch in _CN_DIGITS:
            if current is not None:
                return None  # two digits in a row in unit notation: ambiguous
            current = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (1 if current is None else current) * _CN_UNITS[ch]
            current = None
        else:
            return None
    if current is not None:
        total += current
    return total


def numerals_to_digits(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        run = match.group(1)
        start = match.start(1)
        # 第一 / 統一 / 唯一: a preceding CJK character that glues to the numeral
        # makes it part of a word, except for the ordinal marker 第 and 約/近.
        prev = text[start - 1] if start > 0 else ""
        if len(run) == 1 and prev and prev in "統唯萬單同逐":
            return run
        if text.startswith("次性", match.end(1)):
            return run  # 一次性 (one-off) is a kind of service, not a count: 「數位行銷(非一次性服務)」
        value = chinese_numeral_to_int(run)
        return run if value is None else str(value)

    return _NUM_RUN.sub(repl, text)


_ROC_DATE = re.compile(r"(?<!\d)(\d{2,4})[/.-](\d{1,2})[/.-](\d{1,2})(?!\d)")
_MONTH_DAY = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])")
_CLOCK = re.compile(r"(?<!\d)(\d{1,2}):(\d{2})(?!\d)")


_WEST_DATE = re.compile(r"(?<!\d)(20[12]\d)[/.\-](\d{1,2})[/.\-](\d{1,2})(?!\d)")
_WEST_MONTH = re.compile(r"(?<!\d)(20[12]\d)[/.\-](1[0-2]|0?[1-9])(?![\d/.\-])")
_WEST_YEAR = re.compile(r"(?<!\d)(20[12]\d)\s*年")
_MINGUO = re.compile(r"民國\s*(\d{2,3})\s*年")


def _dates_to_words(text: str) -> str:
    """112/3/16 -> 112年3月16日, 3/16 -> 3月16日, 17:00 -> 17點00: the
    slash and colon are removed with the punctuation, and 316 would match
    nothing, while the seeds and answers mix both notations."""
    if "20" in text or "民國" in text:
        # 2023/10/31, 2025/8, 2023年 and 民國112年 as the documents write them: 112年10月31日, 114年8月, 112年
        text = _WEST_DATE.sub(lambda m: f"{int(m.group(1)) - 1911}年{int(m.group(2))}月{int(m.group(3))}日", text)
        text = _WEST_MONTH.sub(lambda m: f"{int(m.group(1)) - 1911}年{int(m.group(2))}月", text)
        text = _WEST_YEAR.sub(lambda m: f"{int(m.group(1)) - 1911}年", text)
        text = _MINGUO.sub(r"\1年", text)
    text = _ROC_DATE.sub(lambda m: f"{m.group(1)}年{int(m.group(2))}月{int(m.group(3))}日", text)
    text = _MONTH_DAY.sub(lambda m: f"{int(m.group(1))}月{int(m.group(2))}日"
                          if 1 <= int(m.group(1)) <= 12 and 1 <= int(m.group(2)) <= 31 else m.group(0), text)
    return _CLOCK.sub(lambda m: f"{int(m.group(1))}點{m.group(2)}", text)


def _strip_non_word(text: str) -> str:
    # "%" is a fact's unit (「10%意向書」「抽幾%」), not punctuation: it stays.
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in _KEEP_CATEGORIES or ch == "%")


def _apply_variants(text: str) -> str:
    for src, dst in _VARIANTS:
        if src in text:
            text = text.replace(src, dst)
    return text


@lru_cache(maxsize=4096)
def normalize_text(text: str) -> str:
    """Canonical form used for matching (not for display)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = text.lower()
    text = to_traditional(text)
    text = _taiwanese_to_mandarin(text)
    text = _apply_variants(text)
    text = _dates_to_words(text)
    text = _strip_non_word(text)
    text = numerals_to_digits(text)
    return _english_terms(_shares_and_days(text))


# English words and phrases owners mix into Mandarin, read as the programme's own word before the
# spaces go: once 「target industry scope」 is 「targetindustryscope」 no word of it can match, and
# the tokenizer cut 「eligible」 into 「el」「ig」「ible」. Only questions (knowledge.service.ask): the
# entries' own English words (「price跟外面一樣嗎」) keep matching as they are.
_GLOSSARY = {
    "eligible": "符合資格", "eligibility": "資格", "qualify": "符合資格", "qualified": "符合資格",
    "headcount": "員工人數", "full-time": "正職", "full time": "正職", "fulltime": "正職",
    "part-time": "兼職", "part time": "兼職", "parttime": "兼職", "industry": "行業", "industries": "行業",
    "scope": "範圍", "retail": "零售", "conflict": "重複", "propose": "提案", "proposal": "提案",
    "rights": "權利", "delete": "刪除", "public cloud": "公有雲", "private cloud": "私有雲",
    "private server": "私有雲", "platform": "平台", "platforms": "平台", "website": "網站", "web site": "網站",
    "goal": "目的", "goals": "目的", "set up": "安裝", "setup": "安裝", "coach": "輔導", "coaching": "輔導",
    "free trial": "試用", "trial": "試用", "beta": "新開發", "benchmark": "標竿", "data analysis": "數據分析",
    "complain": "申訴", "complaint": "申訴", "outsource": "外包", "outsourcing": "外包", "onboarding": "導入",
    "staff": "員工", "shared platform": "共通平台", "data-driven": "數據驅動", "data driven": "數據驅動",
    "course": "課程", "courses": "課程", "class": "課程", "classes": "課程", "digital literacy": "數位知能",
    "e-commerce": "電子商務", "ecommerce": "電子商務", "ceiling": "上限", "cap": "上限",
    "completion rate": "完成率", "minimum": "至少", "remote": "遠端", "timeline": "時程",
    "requirement": "規定", "requirements": "規定", "checklist": "清單", "vendor": "廠商", "vendors": "廠商",
    "package": "方案", "pricing": "價格", "price": "價格", "renew": "續約", "renewal": "續約",
    "dashboard": "報表", "on-site": "現地", "onsite": "現地", "on site": "現地",
    "daily": "每日", "weekly": "每週", "monthly": "每月", "quota": "名額",
}
_GLOSSARY_WORD = re.compile(r"(?<![a-z])(" + "|".join(sorted(map(re.escape, _GLOSSARY), key=len, reverse=True))
                            + r")(?![a-z])", re.IGNORECASE)
_LATIN = re.compile(r"[A-Za-z]{3}")


def english_words(text: str) -> str:
    """A question's English words and phrases as the programme's words (raw text in and out)."""
    return _GLOSSARY_WORD.sub(lambda m: _GLOSSARY[m.group(1).lower()], text) if _LATIN.search(text) else text


# English words read as the programme's word, when they stand alone among Chinese characters
# (「cloud的資料」). As a synonym instead, 「cloud」 (one alternative's word, so rare and heavy)
# dragged questions naming 雲端 toward that entry. Not inside a longer word: iCloud, googlecloud.
_CLOUD = re.compile(r"(?<![a-z])cloud(?![a-z])")


def _english_terms(text: str) -> str:
    return _CLOUD.sub("雲端", text) if "cloud" in text else text


_PERCENT_WORDS = re.compile(r"百分之([零〇一二兩三四五六七八九十百]+|\d+)")
# 3成 is 30 % (the documents write both: 「六成」「10%」); not 成 starting a word (成本, 成果, 成員…)
_TENTHS = re.compile(r"(?<![\d.])([1-9])成(?![功為立長本員交果效績熟])")
_DAY_HAO = re.compile(r"(\d+月\d+)號")


def _percent(match: re.Match[str]) -> str:
    value = match.group(1) if match.group(1).isdigit() else chinese_numeral_to_int(match.group(1))
    return match.group(0) if value is None else f"{value}%"


def _shares_and_days(text: str) -> str:
    """百分之十 and 1成 as 10%, 11月30號 as 11月30日: one form for each."""
    if "百分之" in text:
        text = _PERCENT_WORDS.sub(_percent, text)
    if "成" in text:
        text = _TENTHS.sub(lambda m: f"{int(m.group(1)) * 10}%", text)
    if "號" in text:
        text = _DAY_HAO.sub(r"\1日", text)
    return text


# OpenCC writes 签 as 籤 (a slip of bamboo, a lot drawn) wherever no phrase tells it otherwise, so
# 「要签什么」 became 「要籤什麼」: in this programme 签 is signing (簽), except in these words.
_QIAN_LOT = re.compile(r"籤(?!(詩|筒|王))(?<!(抽|求|中|標|書|牙|竹|鐵)籤)")


def to_traditional(text: str) -> str:
    """Simplified -> Traditional (Taiwan forms) when the text has a Simplified-only character."""
    if not any(ch in _SIMPLIFIED_ONLY for ch in text):
        return text
    text = _S2T.convert(text)
    return _QIAN_LOT.sub("簽", text) if "籤" in text else text


def canonical_char(char: str) -> str:
    """One Chinese character as normalize_text writes it (臺 -> 台)."""
    return _CHAR_VARIANTS.get(char, char)


def to_simplified(text: str) -> str:
    """Traditional -> Simplified, character for character (used to help jieba,
    whose dictionary is mostly Simplified)."""
    return text.translate(_T2S_TABLE)


def eval_normalize(text: str) -> str:
    """The eval set's answer normalisation (tests/fixtures/eval/README.md): remove all
    whitespace, full-width ASCII (U+FF01-FF5E) to half-width, lowercase."""
    out = []
    for ch in text:
        if ch.isspace():
            continue
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            ch = chr(code - 0xFEE0)
        out.append(ch)
    return "".join(out).lower()
