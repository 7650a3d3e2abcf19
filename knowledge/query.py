"""What a message is, before the knowledge base is searched (knowledge/intents.yaml is the data).

* small talk (「謝謝」「辛苦了」「👍」「早安」「哈哈」「好的收到」): a class whose reply is one short line;
* declined (weather, lottery, a tax return, a tenancy dispute…): a class whose reply says the bot
  only helps with the programme, or where to ask instead;
* the side the question speaks from (「我們要提案…」 → unit, 「我的店…」 → owner, 「我是顧問…」 →
  advisor), which overrides the asker's role;
* the clauses in which an owner describes themselves (「我開雞排攤」「老婆幫忙」): their words that
  the knowledge base does not know must not drown the question (knowledge.index weighs them);
* the conversation the message asks for (eligibility, letter, visits, my data, reminders).

Pure functions over text; nothing here touches the index, the database or LINE.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from rapidfuzz.distance import Levenshtein

from .normalize import numerals_to_digits, normalize_text
from .sounds import sound

INTENTS_FILE = Path(__file__).resolve().parent / "intents.yaml"
SIDES = ("advisor", "unit", "owner")
# The asker's role -> the side an answer is written for (knowledge.loader.AUDIENCES).
ROLE_SIDES = {"owner": "owner", "staff": "unit", "advisor": "advisor"}
# Connectives that open a clause of their own (「…幾號前要裝好因為我下個月要出國」).
_CONNECTIVES = "因為|可是|但是|不過|所以|結果|畢竟|不然"
# Raw-text clause boundaries (normalize_text drops spaces, punctuation and emoji, so clauses are cut
# first). A message dictated without punctuation or spaces (「…到底會來我店裡幾次啊因為我白天都一個人
# 顧店…」) breaks where a typist would have put one; each alternative says where.
_CLAUSE_BREAKS = (
    r"[\s,，.。!！?？~～、;；:：…⋯\-—()（）\[\]「」『』\"'“”‘’]+",  # spaces and punctuation
    r"[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]+",  # emoji
    # 嗎/呢 followed by more words (「會有課嗎大概幾堂」; 嗎啡 is a word) or a condition's 的話
    # (「普及的話會導幾個工具」)
    r"(?<=[嗎吗呢])(?=[\u4e00-\u9fff])(?!啡)", r"(?<=的話)(?=[\u4e00-\u9fff])",
    # a spoken particle (「突擊檢查啊我禮拜一公休…」); not 耶/欸, which end a told clause that belongs to
    # the question (「我本來就在用一樣的方案耶這樣會不會有問題」)
    r"(?<=[啊啦喔齁])(?=[\u4e00-\u9fff])",
    # a connective, anywhere
    rf"(?<=[\u4e00-\u9fff])(?={_CONNECTIVES})",
    # the owner describing themselves after the question (「…上台報告我很怕講話」「…差在哪我是開小吃店
    # 的」), not 我 as an object (「要我每天打開系統」) nor right after a connective
    rf"(?<=[\u4e00-\u9fff]{{4}})(?<![要叫讓請幫教給跟和對找問帶陪說等])(?<!{_CONNECTIVES})"
    r"(?=我(?:很|怕|每天|白天|晚上|今天|最近|平常|年紀|不太|不會|真的|上個月|本來|之前|以為|是|們是|開|看不懂|聽不懂"
    r"|搞不懂|不懂))",
    # the spoken 「那個」 re-opening the topic (「…白天都在備料那個consultant要來幾次」)
    r"(?<=[\u4e00-\u9fff]{4})(?=那個)",
    # who said it, starting the claim asked about (「我開小吃店業務說偏鄉會優先…」)
    r"(?<=[\u4e00-\u9fff]{4})(?=(?:顧問|業務|廠商|朋友|隔壁|他們|提案單位|小姐|先生)(?:說|講|跟我說|跟我講))",
)
_CLAUSE_BREAK = re.compile("|".join(_CLAUSE_BREAKS))
_QUESTION_END = re.compile(r"[?？]")
# A statement ending in 吧 (「應該沒差吧」「不用再填了對吧」) asks to be confirmed.
_CONFIRMING = re.compile(r"吧[啊呀喔]?$")
# Only a comma keeps two clauses in one sentence (「這次的系統如果常當機，有什麼保障嗎」); a space, a full
# stop or an emoji may end one.
_COMMA = re.compile(r"\s*[,，、]\s*")
# The verbs that start a conversation (flows: 申請, 報名, 參加…), not a topic of the programme by themselves
_FLOW_VERBS = frozenset({"申請", "報名", "參加", "簽"})
# 「這個 program 的 deadline 是幾號」: an English word set off by spaces inside a Chinese sentence is
# part of it; the spaces around it are no clause breaks.
_EMBEDDED_LATIN = re.compile(r"(?<=[\u4e00-\u9fff])\s+([A-Za-z][A-Za-z0-9@.\-]*)\s+(?=[\u4e00-\u9fff])")
# Domain words that name any app or till, not the programme's world: beside an off-topic matter
# (「想學日文 有推薦的app嗎」) they do not make it a programme question.
_ANY_APP = frozenset({"app", "pos"})
# 「老闆娘叫我問…」: whoever sent the person to ask is never the question's topic (unlike 「顧問說…」).
_RELAYED = re.compile(r"(叫|要|請|託|交代)我.{0,3}問.{0,2}$")
_NEGATED = re.compile(r"還沒|沒有|沒|未|不")
_LOST = re.compile(r"[?？¿⁇❓❔!！\s]*[?？⁇❓❔][?？¿⁇❓❔!！\s]*")
# Small-talk classes whose typos are read as small talk when nothing answers (not ack or laugh:
# 「好貴」 is one key from 「好的」 and is not an acknowledgement).
TYPO_CLASSES = ("thanks", "effort", "morning", "night", "bye")
# Small-talk classes that open a message rather than say something (see _small_talk_class).
OPENING_CLASSES = frozenset({"morning", "preface"})
TYPO_MAX_CHARS = 4
# 「我想問」 this many characters into a clause starts the question (before it: a clause of its own).
ASK_SPLIT_MIN = 4
# What follows 「顧問說」 must be this long to be a claim the owner asks about (「他說好」 is not).
REPORTED_MIN_REST = 4
# A shop named at the start of a run-on clause (「我開早餐店顧問要來幾次」「花店簽了之後…」) is at most
# this long, and what follows it at least RUN_ON_MIN_REST characters.
RUN_ON_MAX_SHOP = 10
RUN_ON_MIN_REST = 4


@dataclass(frozen=True)
class Clause:
    norm: str
    context: bool   # a self-description, not part of the question
    fact: bool = False  # a self-description stating a fact the answer depends on (headcount…)
    asks: bool = False  # has a question word or a trailing 「?」 (「顧問要來幾次」, not 「不要一直來啦」)
    speaker: bool = False  # who said or sent the question (「業務說」「老闆叫我問」), not what it is about
    joined: bool = False  # follows the clause before it after a comma, in the same sentence


@dataclass(frozen=True)
class Query:
    text: str
    norm: str
    clauses: tuple[Clause, ...] = ()
    small_talk: str | None = None     # class name
    decline: str | None = None        # class name
    side: str | None = None           # spoken side, if the text settles it
    flows: tuple[str, ...] = ()       # conversations it asks for
    # It names the programme or one of its anchor words (意向書, 顧問…): never declined as off-topic.
    named: bool = False

    @property
    def context_norm(self) -> str:
        return "".join(c.norm for c in self.clauses if c.context and not c.fact)

    @property
    def facts_norm(self) -> str:
        return "".join(c.norm for c in self.clauses if c.context and c.fact)

    @property
    def core_norm(self) -> str:
        """The question without its self-description (the whole text when nothing is left)."""
        core = "".join(c.norm for c in self.clauses if not c.context)
        return core or self.norm


@dataclass
class Classifier:
    small_talk: dict[str, re.Pattern]
    small_talk_any: re.Pattern
    decline: dict[str, re.Pattern]
    anchors: re.Pattern | None
    domain: re.Pattern | None
    sides: dict[str, re.Pattern]
    context_starts: re.Pattern | None
    facts: re.Pattern | None
    question: re.Pattern | None
    flows: dict[str, re.Pattern]
    program_words: tuple[str, ...] = ()
    wants: re.Pattern | None = None   # 「我想做會員集點」 states the need: part of the question
    shop: re.Pattern | None = None    # 「乾洗店」 alone, first: the asker's trade
    asks: re.Pattern | None = None    # 「我想問」 inside a run-on message: the question starts there
    main: re.Pattern | None = None    # 「最想知道的是…」: of several questions, the one that follows is asked
    reported: re.Pattern | None = None  # 「顧問說…」 at a clause's start: who said what is asked about
    actors: re.Pattern | None = None    # a speaker of 「…說」 who is part of the question (「公司」「協會」)
    introduces: re.Pattern | None = None  # 「我是賣便當的」: who the person is (Classifier.is_introduction)
    standing_facts: re.Pattern | None = None  # facts that weigh fully even beside a topic of the question's own
    opens: re.Pattern | None = None   # 「花店簽了…」: what starts a new clause after a bare shop name
    # Literal small-talk units (no regex) of the classes a slipped key may hide (「謝射」「辛若了」).
    typo_units: tuple[tuple[str, str], ...] = ()
    # Toneless pinyin of every literal small-talk unit: any class may hide a homophone (the Zhuyin
    # keyboard offers 「收倒」 for 「收到」); sounding the same is much stricter than one slipped key
    # (「好貴」 does not sound like 「好的」).
    sound_units: dict[str, str] = field(default_factory=dict)
    filler: re.Pattern | None = None
    # Toneless pinyin of the one-character filler words (你, 呢, 啦…): 「謝謝泥」 ends in one.
    filler_sounds: frozenset[str] = frozenset()
    _cache: dict[str, Query] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: Path = INTENTS_FILE, *, program_words: tuple[str, ...] = ()) -> "Classifier":
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        units = data.get("small_talk") or {}
        filler = list(data.get("small_talk_filler") or ())
        every_unit = [u for words in units.values() for u in words] + filler
        return cls(
            small_talk={name: alternation(words) for name, words in units.items()},
            small_talk_any=alternation(every_unit, whole=True),
            decline={name: alternation(words) for name, words in (data.get("decline") or {}).items()},
            anchors=alternation(data.get("anchors")),
            domain=alternation(data.get("domain")),
            sides={name: alternation((data.get("sides") or {}).get(name)) for name in SIDES
                   if (data.get("sides") or {}).get(name)},
            context_starts=alternation((data.get("context") or {}).get("starts")),
            facts=alternation((data.get("context") or {}).get("facts")),
            question=alternation((data.get("context") or {}).get("question")),
            wants=alternation((data.get("context") or {}).get("wants")),
            shop=alternation((data.get("context") or {}).get("shop"), whole=True),
            asks=alternation((data.get("context") or {}).get("asks")),
            main=alternation((data.get("context") or {}).get("main")),
            reported=_anchored((data.get("context") or {}).get("reported")),
            actors=alternation((data.get("context") or {}).get("actors")),
            introduces=alternation((data.get("context") or {}).get("introduces")),
            standing_facts=alternation((data.get("context") or {}).get("standing_facts")),
            opens=alternation((data.get("context") or {}).get("opens")),
            flows={name: alternation(words) for name, words in (data.get("flows") or {}).items()},
            program_words=tuple(w for w in program_words if w),
            typo_units=tuple((name, _norm_pattern(u)) for name in TYPO_CLASSES for u in units.get(name) or ()
                             if len(_norm_pattern(u)) >= 2 and re.fullmatch(r"\w+", _norm_pattern(u))),
            filler=alternation(filler),
            filler_sounds=frozenset(sound(f) for f in filler if re.fullmatch(r"[\u4e00-\u9fff]", f)),
            sound_units={sound(_norm_pattern(u)): name for name, words in units.items() for u in words
                         if len(_norm_pattern(u)) >= 2 and re.fullmatch(r"[\u4e00-\u9fff]+", _norm_pattern(u))},
        )

    def classify(self, text: str) -> Query:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        query = self._classify(text)
        if len(self._cache) > 20000:
            self._cache.clear()
        self._cache[text] = query
        return query

    def _classify(self, text: str) -> Query:
        norm = normalize_text(text)
        if not norm:
            # Only emoji, punctuation or spaces (「👍」「🙏」「～～」): an acknowledgement; only
            # question marks (「？？」) is someone lost, who needs the way in, not a thumbs-up.
            if text.strip() and _LOST.fullmatch(text.strip()):
                return Query(text=text, norm="", small_talk="lost")
            return Query(text=text, norm="", small_talk="emoji" if text.strip() else None)
        if self.small_talk_any is not None:
            # 「我阿嬤說謝謝你喔」: someone's thanks passed on is thanks.
            said = self.reported.match(norm) if self.reported is not None else None
            for rest in (norm, norm[said.end():] if said is not None else None):
                if rest and self.small_talk_any.match(rest):
                    name = self._small_talk_class(rest)
                    if name:
                        return Query(text=text, norm=norm, small_talk=name)
        clauses = self._clauses(text)
        decline = None
        named = any(w in norm for w in self.program_words) or bool(self.anchors and self.anchors.search(norm))
        flows = tuple(name for name, pattern in self.flows.items() if pattern and pattern.search(norm))
        if not named:
            # Only what the person asks decides: a word of the self-description (「另外請一個工讀生
            # … 可以報嗎」) does not make a programme question a labour one.
            asked = "".join(c.norm for c in clauses if not c.context or c.fact) or norm
            decline = next((name for name, pattern in self.decline.items() if pattern and pattern.search(asked)), None)
            if decline and flows and self._domain_words(asked) - _FLOW_VERBS:
                # 「可以申請嗎」 starts the eligibility check, unless what is applied for is a loan
                # (「有沒有低利貸款可以申請」) and nothing else of the programme's world is said.
                decline = None
            if decline == "off_topic" and self._domain_words(self.decline["off_topic"].sub("", asked)) - _ANY_APP:
                # 「如果我生病住院一個月 系統都沒人登入 會怎樣」: an everyday word beside the programme's
                # own (系統, 登入…) is the situation the programme question is about.
                decline = None
            if decline is None and asked != norm and not (self.domain and self.domain.search(asked)):
                # 「我第一次要自己報營業稅 401那張要怎麼填」: the question itself says nothing of the
                # programme's world, so the self-description's tax return is what it is about.
                decline = next((name for name, pattern in self.decline.items() if pattern and pattern.search(norm)),
                               None)
        side = next((name for name, pattern in self.sides.items() if pattern and pattern.search(norm)), None)
        return Query(text=text, norm=norm, clauses=clauses, decline=decline, side=side, flows=flows, named=named)

    def _domain_words(self, norm: str) -> set[str]:
        """The words of the programme's world (intents.yaml domain) that ``norm`` says."""
        return {m.group(0) for m in self.domain.finditer(norm)} if self.domain is not None else set()

    def is_introduction(self, query: Query) -> bool:
        """Only a greeting and a self-description (「你好 我是賣便當的」「便當店」): the person is
        introducing themselves, not asking yet. Read only where an answer depends on it (no entry
        answered), not for every question."""
        return not query.flows and self._introduces(query.text)

    def _introduces(self, text: str) -> bool:
        """Every clause is a greeting, says who the person is or what the shop is (「您好，我是
        阿明麵店老闆」「便當店」), or states a fact about it (「有5個員工」), with no question word and
        no question mark."""
        if _QUESTION_END.search(text):
            return False
        told = False
        for piece in _CLAUSE_BREAK.split(text):
            norm = normalize_text(piece or "")
            if not norm or (self.small_talk_any is not None and self.small_talk_any.match(norm)):
                continue
            if (self.question and self.question.search(norm)) or (self.wants and self.wants.match(norm)):
                return False
            if (self.introduces is not None and self.introduces.match(norm)) or \
                    (self.shop is not None and self.shop.fullmatch(norm)):
                if _CONFIRMING.search(norm) and self._domain_words(norm):
                    # 「我開咖啡廳去年參加過群聚…應該沒差吧」 typed in one breath: it asks for confirmation
                    return False
                told = True
            elif not (self.facts is not None and self.facts.search(norm)) or _NEGATED.search(norm):
                # 「有5個員工」 beside the introduction is still telling; anything else is not, nor a fact
                # the shop lacks (「我們還沒有統編」 is a problem to solve, for the FAQ or staff)
                return False
        return told

    def typo_small_talk(self, text: str) -> str | None:
        """The small-talk class of a short message one slipped character away from a thanks,
        greeting or goodbye (「謝射」「辛若了」「晚按」), or None. A message of several such pieces
        (「收刀 謝謝泥」: 收到 and 謝謝你 typed by sound) is small talk when every piece is; the
        class is the first piece's. Only asked when the knowledge base has no answer: a real
        question is never read as a typo of small talk."""
        pieces = [n for n in (normalize_text(p) for p in _CLAUSE_BREAK.split(text or "") if p) if n]
        if not pieces:
            return None
        if len(pieces) == 1:
            return self._typo_unit(pieces[0])
        found = []
        for norm in pieces:
            name = (self._small_talk_class(norm) if self.small_talk_any is not None and self.small_talk_any.match(norm)
                    else self._typo_unit(norm))
            if name is None:
                return None
            found.append(name)
        return found[0]

    def _typo_unit(self, norm: str) -> str | None:
        core = self.filler.sub("", norm) if self.filler is not None else norm
        if len(core) > 2 and sound(core[-1]) in self.filler_sounds:
            # 「謝謝泥」: a sentence-final 你/呢/啦 typed by sound is filler too
            core = core[:-1]
        if len(core) < 2 or len(core) > TYPO_MAX_CHARS:
            return None  # one character (「3」 from 「-3」) is too little to call a slip of 「3q」
        sounded = self.sound_units.get(sound(core))
        if sounded:
            return sounded
        for name, unit in self.typo_units:
            # One substitution, insertion or deletion, with the first character kept (a slip on
            # the phone keyboard rarely hits the first key of a word the owner types every day).
            if abs(len(core) - len(unit)) <= 1 and Levenshtein.distance(core, unit) == 1 and core[0] == unit[0]:
                return name
        return None

    def _names_an_actor(self, speaker: str) -> bool:
        """「廠商說…」「顧問說…」「負責我們的公司說…」: the speaker is someone the programme's answer is
        about (what the vendor may do), not a bystander (「老闆娘說」「他們說」)."""
        return any(pattern is not None and pattern.search(speaker) for pattern in (self.domain, self.anchors, self.actors))

    def _said_in_passing(self, norm: str, n_pieces: int) -> bool:
        """A clause that is only small talk (「打擾一下」「不好意思」「好的」「謝謝」) beside a question
        says nothing the answer depends on: it is left out of the question's words."""
        return n_pieces > 1 and self.small_talk_any is not None and bool(self.small_talk_any.match(norm)) \
            and self._small_talk_class(norm) is not None

    def _small_talk_class(self, norm: str) -> str | None:
        """The class of the first unit; a greeting or 「請問」 before another unit only opens it
        (「您好 請問您是誰」 asks who the bot is, 「早安 謝謝」 thanks)."""
        # At the same start the longest unit says it (「好累」 is a sigh, not the 「好」 of an ok).
        found = sorted(((match.start(), match.end(), name) for name, pattern in self.small_talk.items() if pattern
                        for match in pattern.finditer(norm)), key=lambda unit: (unit[0], -unit[1]))
        opening = [(start, end) for start, end, name in found if name in OPENING_CLASSES]
        # a unit inside an opening one (the 「好」 of 「你好」) says nothing of its own
        said = [name for start, end, name in found if name not in OPENING_CLASSES
                and not any(o_start <= start and end <= o_end for o_start, o_end in opening)]
        return (said or [name for _, _, name in found] or [None])[0]

    def _main_question(self, norms: list[str]) -> tuple[int, int] | None:
        """Where the question a message marks as the one that matters starts (「…還有 最重要的是
        如果停用系統會怎樣」): the piece and the offset after the marker in its normalised text
        (``norms``: the message's pieces, normalised). None when nothing is marked, the marker opens
        the message, or nothing follows it."""
        if self.main is None:
            return None
        for i in range(len(norms) - 1, -1, -1):
            found = self.main.search(norms[i])
            if found is None:
                continue
            if not any(norms[:i]) and found.start() == 0:
                return None  # 「最重要的是什麼」 asks what matters most
            if not norms[i][found.end():] and not any(norms[i + 1:]):
                return None
            return i, found.end()
        return None

    def _run_on_shop(self, norm: str, *, first: bool = False) -> int:
        """Where a self-description naming the shop ends in a clause that goes on to ask (「我開早餐店
        顧問要來幾次」), or 0. A message may also open on the bare shop name (「花店簽了之後…」
        「烘焙坊我的個資…」, typed as 「花店 簽了之後…」 with a space): then what follows must open a
        clause of its own (``opens``), since a shop word is often the subject asked about
        (「在偏鄉開店會比較有機會嗎」)."""
        if self.shop is None or self.introduces is None or self.question is None:
            return 0
        introduced = bool(self.introduces.match(norm))
        bare = first and self.opens is not None
        if not (introduced or bare):
            return 0
        for end in range(2, min(len(norm) - RUN_ON_MIN_REST, RUN_ON_MAX_SHOP) + 1):
            # the cheap tests first: this runs on the first piece of every message
            if self.shop.fullmatch(norm[:end]) and not self.shop.fullmatch(norm[:end + 1]) \
                    and ((introduced and end >= 3) or (bare and bool(self.opens.match(norm, end)))) \
                    and self.question.search(norm[end:]):
                return end
        return 0

    def _clauses(self, text: str) -> tuple[Clause, ...]:
        out = []
        text = _EMBEDDED_LATIN.sub(r"\1", text)
        pieces = [p for p in _CLAUSE_BREAK.split(text) if p and p.strip()]
        # A trailing 「?」 marks the clause before it as a question even without a question word.
        asked, commas = set(), set()
        pos = 0
        for i, piece in enumerate(pieces):
            at = text.find(piece, pos)
            if i and _COMMA.fullmatch(text[pos:at]):
                commas.add(i)
            pos = at + len(piece)
            if _QUESTION_END.match(text[pos:pos + 3].lstrip(" ")):
                asked.add(i)
        split: list[tuple[str, bool, bool]] = []  # (clause, marked as asked, told before 「我想問」)
        joined: set[int] = set()  # indexes in split of clauses after a comma in the same sentence
        speakers: set[int] = set()  # indexes in split of who said what the question is about
        norms = [normalize_text(piece) for piece in pieces]
        main, told_before = self._main_question(norms), 0
        claims: set[int] = set()  # indexes in split of what a speaker said (the claim asked about)
        after_speaker = False  # the previous piece was only a speaker (「業務說」)
        for i, norm in enumerate(norms):
            if main is not None and i == main[0]:
                # 「1.電訪會不會很常打來 2.最想知道 輔導做到哪一天」: what came before is told.
                told_before, norm = len(split), norm[main[1]:]
            if not norm or self._said_in_passing(norm, len(pieces)):
                continue
            if i in commas and split:
                joined.add(len(split))
            shop_end = self._run_on_shop(norm, first=not split)
            if shop_end:
                # 「我開早餐店顧問要來幾次」 typed without a break: the shop named first is a clause.
                split.append((norm[:shop_end], False, False))
                norm = norm[shop_end:]
            said = self.reported.match(norm) if self.reported is not None else None
            if after_speaker:
                # 「業務說 我們這案最少要30家 不然不成案 對嗎」: after a speaker alone, what they said is
                # the claim asked about, not the owner describing the shop (though it starts with 我們).
                claims.add(len(split))
            after_speaker = said is not None and said.end() == len(norm) and \
                not (self.question and self.question.search(norm))
            if said is not None and len(norm) - said.end() >= REPORTED_MIN_REST \
                    and not (self.question and self.question.search(norm[:said.end()])) \
                    and (_RELAYED.search(norm[:said.end()]) or not self._names_an_actor(norm[:said.end()])):
                # 「顧問說輔導有四個方向 是哪四個」「跟我們接洽的人說共融可以…」: who said it is context;
                # what they said is what the owner asks about.
                speakers.add(len(split))
                split.append((norm[:said.end()], False, True))
                claims.add(len(split))
                norm = norm[said.end():]
            marker = self.asks.search(norm, ASK_SPLIT_MIN) if self.asks is not None else None
            if marker is not None:
                # A run-on message (「我是開機車行的啦…我想問簽了之後要做什麼」): the words before
                # 「我想問」 are a clause of their own, so a self-description among them is one.
                # What comes before it is told, not asked, even with a 什麼 in it (「要簽什麼意向書」).
                split.append((norm[:marker.start()], False, True))
                split.append((norm[marker.end():], i in asked, False))
            else:
                split.append((norm, i in asked, False))
        n = len(split)
        for i, (norm, marked, told) in enumerate(split):
            if not norm:
                continue
            # What came before 「我想問」 is told, whatever it starts with (「…顧問說要簽什麼意向書我想問…」).
            is_context = i in speakers or i < told_before or (told and i not in claims and not marked) or (
                i not in claims and not marked and not (self.question and self.question.search(norm))
                and not (self.wants and self.wants.match(norm))
                and ((self.context_starts is not None and bool(self.context_starts.match(norm)))
                     or (i == 0 and n > 1 and self.shop is not None and bool(self.shop.fullmatch(norm)))))
            is_fact = is_context and i not in speakers and i >= told_before and bool(self.facts and self.facts.search(norm))
            asks = marked or bool(self.question and self.question.search(norm))
            out.append(Clause(norm=norm, context=is_context, fact=is_fact, asks=asks, speaker=i in speakers,
                              joined=i in joined))
        if out and all(c.context for c in out):
            # Nothing but self-description (「我開早餐店」): that is what the person said; keep it.
            out = [replace(c, context=False, fact=False) for c in out]
        return tuple(out)


def alternation(items, *, whole: bool = False) -> re.Pattern | None:
    """One pattern for a list of intents.yaml patterns (longest first); ``whole``: the text is
    made only of them. None for an empty list."""
    parts = [_norm_pattern(str(p)) for p in items or ()]
    parts = [p for p in parts if p]
    if not parts:
        return None
    body = "|".join(f"(?:{p})" for p in sorted(parts, key=len, reverse=True))
    return re.compile(f"^(?:{body})+$" if whole else body)


def _anchored(items) -> re.Pattern | None:
    """intents.yaml patterns matched at the start of a clause only."""
    pattern = alternation(items)
    return re.compile(f"^(?:{pattern.pattern})") if pattern is not None else None


def _norm_pattern(pattern: str) -> str:
    """Patterns are written in the text's normalised form, except that they may use regex
    syntax; letters are lowercased, numerals before a counter become digits as in the text
    (「一次」「哪一天」 match 1次, 哪1天), and Simplified characters are left to the author."""
    return numerals_to_digits(pattern.strip().lower().replace(" ", ""))


def side_of(role: str | None, query: Query | None = None) -> str:
    """The side an answer is for: what the question says, else the asker's role (owner default)."""
    if query is not None and query.side:
        return query.side
    return ROLE_SIDES.get(role or "owner", "owner")


_LOCK = threading.Lock()
_DEFAULT: Classifier | None = None


def default_classifier(program_words: tuple[str, ...] = ()) -> Classifier:
    global _DEFAULT
    with _LOCK:
        if _DEFAULT is None:
            _DEFAULT = Classifier.load(program_words=program_words)
        return _DEFAULT
