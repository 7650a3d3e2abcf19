"""FAQ answering service: ``KnowledgeBase.load(...).ask(question)``.

Pure Python (no Flask/LINE).  The bot's /api/ask and the LINE dialogs call
:meth:`KnowledgeBase.ask` and render :class:`AskResult`.

Confidence and bands (see :mod:`knowledge.calibration` for the formula and the
thresholds with their rationale): ``answer`` -> matched, the entry's answer;
``suggest`` -> not matched, up to three likely questions offered as quick
replies; ``fallback`` -> not matched, the hand-over-to-staff text; ``not_stated`` -> not
matched, an ``unstated`` entry saying what the documents do and do not state. A question whether
the shop can join (「可以報嗎」) is answered from the campaign's rules (knowledge/joining.py,
``tier`` "rules") unless it also asks about something else.

Programme awareness (names and years are data in synonyms.yaml):
* an explicit programme word in the question (共好/普及/共融, 群聚/A類/B類,
  舊規定 or a year such as 110年, 數位券) restricts retrieval to that programme
  (other programmes are heavily down-weighted) and overrides ``program_hint``;
* a year glued to a programme word that the KB does not cover ("112年群聚")
  means the documents do not answer it -> fallback;
* otherwise ``program_hint`` (or the programme of the previous entry in a
  follow-up) boosts that programme;
* with no programme named nor hinted, if the best entries of two programmes
  are both confident and close, the answer presents both, labelled
  (``needs_program_choice`` lists the programmes).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bot.texts import t

from . import calibration
from .index import (CONTEXT_KNOWN_WEIGHT, UNKNOWN_IN_COVERAGE, Analysis, Analyzer, Candidate, SearchIndex,
                    build_index, default_analyzer, is_interrogative)
from .joining import SHOP_WORD, JoinQuestion, JoinRules, JoinWords, eligibility_facts, load_rules
from .loader import DEFAULT_ENTRIES_DIR, DEFAULT_SEEDS_DIR, Entry, KBReport, check_knowledge_base
from .normalize import drop_address, english_words, normalize_text, plain_register
from .passages import SEARCH_K as PASSAGE_SEARCH_K
from .passages import PassageIndex, excerpt, load_passages
from .query import Classifier, Clause, Query, default_classifier, side_of

FALLBACK_TEXT = t("faq.api_fallback")
SUGGEST_TEXT = t("faq.api_suggest")

# Per-entry multipliers on the BM25 score.
EXPLICIT_OTHER_WEIGHT = 0.3    # entries of a programme the user did not name
EXPLICIT_GENERAL_WEIGHT = 0.85  # 'general' entries still apply to any programme
# No programme named: the campaign's (or the owner's context's) programme answers; another
# programme only when it fits clearly better (a concept the campaign lacks, e.g. 群聚 研習).
OTHER_PROGRAM_WEIGHT = 0.6
SUPERSEDED_WEIGHT = 0.2        # 110年 群聚 / old FAQ rules: only when named
OTHER_SIDE_WEIGHT = 0.75       # entries written for another side than the asker's
# Stopwords that still ask for something; 嗎 too: a yes-no question every word of which the best entry
# covers (「我有兩間店 群聚可以都報嗎」) has one answer (stop 34: +10 on the tuning sets, 0 lost, with a
# year no programme covers excluded: 「113年還會有數位共好計畫嗎」).
ELLIPTIC_ASKS = frozenset({"什麼", "哪裡", "哪", "多久", "誰", "怎樣", "怎麼", "如何", "嗎"})
OFF_TOPIC_UNKNOWN = 0.6        # share of the question's specific words unknown to the KB
MAX_QUERY_CHARS = 300         # FAQ questions are short; a pasted page must not cost 100 ms
FOLLOWUP_MAX_CHARS = 8         # 「那共融呢」「B類呢」「如果是A類」 are short
# A short question that names no programme (「課有幾堂」「幾號前要用」) is the campaign's: another
# programme's entry never answers it because it happens to share the one word.
ELLIPTIC_MAX_CHARS = 8
# A government body by its name's last character (環保署, 能源署, 衛福部, 文化局, 勞委會) and a subsidy:
# one the knowledge base never names is another agency's grant (_other_agencys_subsidy).
# Government bodies by what they are called (環保署, 能源局, 衛福部, 文化局…); not any word ending in 部 or
# 局: 郵局, 部分, 總部, 局部 are everyday words in programme questions.
_AGENCY = re.compile(r"(?:環保|環境|能源|衛福|衛生福利|衛生|文化|農業|交通|觀光|教育|勞動|勞工|社會|經發|經濟發展|財政|內政|"
                     r"國發|水利|林業|林務|漁業|產發|產業發展|工務|建設|都發|都市發展|消防|海洋|運動|體育|青年|"
                     r"原住民族?|原民|客家|客委|數發|數位發展|文化資產|文資|僑委|退輔)(?:部|署|局|處|委員會|委會|會)")
_SUBSIDY = re.compile(r"補助|補貼|津貼|獎勵金|獎補助")
FACET_NEW_WEIGHT = 1.3         # follow-up: entries about the facet just named
FACET_OLD_WEIGHT = 0.5         # follow-up: entries about the facet it replaces
CHOICE_CLOSENESS = 0.75        # second programme's rank score relative to the first
# A join question (knowledge/joining.py) is answered from the rules when what is left of it beyond
# the ask and the shop's facts weighs less than one specific word (資本額 ~7, 雲端 ~3.6, 以下 ~1.5).
JOIN_RESIDUAL_MAX = 2.5
# A question whose own words carry this much topic (about two specific words: 顧問+幾次, 拍+畫面)
# is about that topic: a headcount or turnover told before it describes the shop and weighs as the
# self-description does (stop 38: +9 and -1 off-topic on 12,740 tuning and dev lines; 2.0 and 3.0
# trade more, 6.0 and 9.0 gain less).
FIGURES_AS_CONTEXT_MASS = 4.0
# ...and when an entry answers confidently, by one whose topic is more than a common word (「已經在用
# 他們家的POS 還能參加嗎」 is the existing-customer rule): the entry answers, the check is offered beside it.
# Plateau 1.0-2.0 on the tuning and fresh dev sets (stop 31).
JOIN_ENTRY_RESIDUAL = 1.5
# A message of several asking clauses that no entry answers as a whole is read as its last question
# (the rest is what was told) when that one is answered confidently by an entry already among the
# whole message's LAST_ASK_TOP best: fresh dev sets p29-36 +29 right, off-topic -1 (stop 31).
LAST_ASK_TOP = 3
# The verbs of a bare ask (「這樣可以提嗎」「可以用嗎」): with nothing else, the question is about what was told.
BARE_ASK_VERBS = frozenset({"提", "提案", "報", "申請", "用", "做", "弄"})
# A message most of whose words the knowledge base never says (「收銀台的印表機一直卡紙 怎麼處理」) is
# not a programme question whose last clause could be answered alone: the words told are the topic.
LAST_ASK_MAX_UNKNOWN = 0.75

log = logging.getLogger(__name__)
_BARE_NUMBER = re.compile(r"[零〇一二兩三四五六七八九十百千萬0-9.,]+")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")  # any Chinese character: a message in words
_QUANTITY = re.compile(r"多少|幾")  # a question asking for a number
RELOAD_STAMP = ".reload"  # `flask kb reload` touches it; the watcher sees the change

_YEAR = re.compile(r"(\d{2,4})年")
# 「跟共好一樣」「和群聚的差不多」「像數位券那樣」: a programme named as the measure of a comparison.
_COMPARED_WITH = re.compile(r"(跟|和|與|像|同)[^\s,，。?？!！|]{1,10}?(一樣|相同|差不多|類似|那樣)")
_FOLLOWUP_START = ("那", "如果是", "若是", "換成", "改成", "還有", "那如果")


def _roc_years(norm: str) -> set[int]:
    """The years a question names, as ROC years (「2023年」 and 「112年」 are both 112)."""
    return {y - 1911 if y >= 1911 else y for y in (int(m) for m in _YEAR.findall(norm))}


class KnowledgeBaseError(Exception):
    """A (re)load found errors; ``report`` holds them.  The old index stays."""

    def __init__(self, report: KBReport):
        super().__init__("knowledge base has errors:\n" + "\n".join(report.errors[:20]))
        self.report = report


@dataclass
class AskResult:
    matched: bool
    answer: str
    entry_id: str | None
    score: float
    band: str  # answer | suggest | fallback | not_stated | small_talk | declined
    suggestions: list[dict[str, str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    related: list[dict[str, str]] = field(default_factory=list)
    needs_program_choice: list[str] = field(default_factory=list)
    program: str | None = None
    side: str = "owner"              # the asker's side (role, or what the question says)
    audience: str | None = None      # who the answer shown is written for (owner | unit | advisor)
    counterpart: dict[str, str] | None = None  # the same topic answered for the other side
    intent: str | None = None        # small_talk:<class> | declined:<class> | None (a question)
    tier: str | None = None          # what answered: "entry" (the knowledge base) or "document" (a passage)
    flows: list[str] = field(default_factory=list)  # conversations the message asks for (chat)
    debug: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        """The /api/ask body (CONTRACT.md) plus the extra fields."""
        return {
            "matched": self.matched, "answer": self.answer, "entry_id": self.entry_id,
            "score": round(self.score, 4), "suggestions": list(self.suggestions),
            "sources": list(self.sources), "band": self.band, "related": list(self.related),
            "needs_program_choice": list(self.needs_program_choice),
            "audience": self.audience, "side": self.side, "intent": self.intent,
            "counterpart": self.counterpart, "tier": self.tier,
        }


@dataclass
class ProgramMention:
    programs: set[str]
    conflict: bool = False   # a year + programme the KB does not cover


@dataclass
class _Retrieval:
    candidates: list[Candidate] = field(default_factory=list)
    analysis: Analysis | None = None
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0
    programs: set[str] = field(default_factory=set)
    context_program: str | None = None
    followup: bool = False
    reason: str | None = None   # set when retrieval stopped early (-> fallback)


@dataclass
class _State:
    index: SearchIndex
    report: KBReport


class KnowledgeBase:
    def __init__(self, *, entries_dir: Path, seeds_dir: Path | None, analyzer: Analyzer | None = None,
                 default_program: str | None = None, programs_file: str | Path | None = None):
        self.entries_dir = Path(entries_dir)
        self.seeds_dir = Path(seeds_dir) if seeds_dir is not None else None
        self._analyzer = analyzer or default_analyzer()
        # The programme of the account's campaign (programs.yaml, see campaign_program):
        # the default for a question that names none.
        self.default_program = default_program or self._analyzer.vocab.default_program
        self.classifier: Classifier = default_classifier(tuple(sorted(self._analyzer.vocab.all_program_words)))
        # 「可以報嗎」: the campaign's eligibility rules answer it (knowledge/joining.py).
        self.join_words = JoinWords.load()
        self.join_rules: JoinRules | None = load_rules(self.default_program, programs_file)
        self._state: _State | None = None
        self._lock = threading.Lock()
        # Automatic reload (see :meth:`watch`): off unless the app turns it on.
        self._watch_interval: float | None = None
        self._next_check = 0.0
        self._signature: tuple | None = None
        self._reloading = threading.Lock()
        self.last_reload_error: KBReport | None = None
        self.reloads = 0
        # The documents do not change with the entries: their passages are indexed once.
        self._passages: PassageIndex | None = None
        self._passages_lock = threading.Lock()

    # ---- construction -----------------------------------------------------
    @classmethod
    def load(cls, entries_dir: str | Path | None = None, seeds_dir: str | Path | None = None,
             *, strict: bool = False, default_program: str | None = None,
             programs_file: str | Path | None = None) -> "KnowledgeBase":
        """Build the KB.  ``strict=False`` skips invalid entries (reported in
        ``.report``) so a half-written file cannot take the bot down;
        ``strict=True`` raises :class:`KnowledgeBaseError` on any error."""
        if seeds_dir is None and DEFAULT_SEEDS_DIR.is_dir():
            seeds_dir = DEFAULT_SEEDS_DIR
        kb = cls(entries_dir=Path(entries_dir or DEFAULT_ENTRIES_DIR), seeds_dir=seeds_dir,
                 default_program=default_program, programs_file=programs_file)
        kb._signature = kb.files_signature()
        kb._state = kb._build(strict=strict)
        return kb

    def _build(self, *, strict: bool) -> _State:
        report = check_knowledge_base(entries_dir=self.entries_dir, seeds_dir=self.seeds_dir)
        if strict and not report.ok:
            raise KnowledgeBaseError(report)
        if not self.entries_dir.is_dir():
            raise KnowledgeBaseError(report)
        # A duplicated id is in invalid_ids, so every id left is unique.
        entries = [e for e in report.entries if e.id not in report.invalid_ids]
        return _State(index=build_index(entries, self._analyzer), report=report)

    @property
    def passages(self) -> PassageIndex | None:
        """The programme documents' passages (second tier), built on first use; None without
        documents."""
        if self._passages is None and self.seeds_dir is not None and self.seeds_dir.is_dir():
            with self._passages_lock:
                if self._passages is None:
                    documents = {doc: pid for pid, spec in self._analyzer.vocab.programs.items()
                                 for doc in spec.get("documents", ())}
                    self._passages = PassageIndex(load_passages(self.seeds_dir, documents), self._analyzer)
        return self._passages

    def reload(self, *, strict: bool = True) -> KBReport:
        """Re-read the entries and swap in a new index atomically.  On error the
        old index keeps serving and :class:`KnowledgeBaseError` is raised."""
        with self._lock:
            signature = self.files_signature()
            try:
                state = self._build(strict=strict)
            except KnowledgeBaseError as exc:
                self.last_reload_error = exc.report
                self._signature = signature  # do not retry until a file changes again
                raise
            self._state = state  # single reference assignment: readers see old or new
            self._signature = signature
            self.last_reload_error = None
            self.reloads += 1
            return state.report

    # ---- live edits ------------------------------------------------------------
    def files_signature(self) -> tuple:
        """(path, mtime, size) of every entry file plus the reload stamp: any edit,
        new or deleted file changes it.  ~30 stats: well under a millisecond."""
        if not self.entries_dir.is_dir():
            return ()
        items = []
        for path in sorted(self.entries_dir.rglob("*")):
            if path.suffix in (".yaml", ".yml") or path.name == RELOAD_STAMP:
                try:
                    st = path.stat()
                except OSError:
                    continue
                items.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(items)

    def watch(self, *, interval: float = 3.0) -> None:
        """Reload automatically when entry files change: :meth:`ask` looks at the
        files' mtimes at most every ``interval`` seconds and, on a change, rebuilds
        in a background thread while the current index keeps answering."""
        self._watch_interval = interval
        if self._signature is None:
            self._signature = self.files_signature()
        self._next_check = time.monotonic() + interval

    def check_for_changes(self, *, background: bool = True) -> bool:
        """Start (or, with ``background=False``, run) a reload when the files
        changed since the last (attempted) load.  Returns whether one started.
        A broken file is logged and kept in ``last_reload_error``; the previous
        index keeps serving."""
        if self.files_signature() == self._signature:
            return False
        if not self._reloading.acquire(blocking=False):
            return False  # a reload is already running

        def run() -> None:
            try:
                report = self.reload(strict=True)
                log.info("knowledge base reloaded: %s", report.summary())
            except KnowledgeBaseError as exc:
                log.error("knowledge base NOT reloaded (previous index keeps serving):\n%s",
                          "\n".join(exc.report.errors[:20]))
            except Exception:  # never let a reload take the bot down
                log.exception("knowledge base reload failed")
            finally:
                self._reloading.release()

        if background:
            threading.Thread(target=run, name="faq-kb-reload", daemon=True).start()
        else:
            run()
        return True

    def _maybe_check(self) -> None:
        if self._watch_interval is None:
            return
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self._watch_interval
        self.check_for_changes(background=True)

    def is_small_talk(self, text: str) -> bool:
        """「謝謝」「好的收到」「👍」: a reply of its own, never a question nor an answer to one."""
        return self.small_talk_reply(text) is not None

    def small_talk_reply(self, text: str) -> str | None:
        """The friendly reply to small talk (「謝謝」 → 「不客氣！…」), or None for anything else."""
        name = self.classifier.classify((text or "")[:MAX_QUERY_CHARS]).small_talk
        return t(f"faq.small_talk_{name}") if name else None

    def not_a_question(self, question: str) -> str | None:
        """Why the text is nothing to hand to staff, or None: "empty" when it has no word beyond
        stopwords and punctuation (「嗎」「？？」「123」); "noise" for one run of Latin letters or
        digits that is no word the programme's texts use (「asdfgh」「jjjj」). A sentence in English
        (「I want to join」) is a question, whatever its words."""
        question = (question or "")[:MAX_QUERY_CHARS]
        if not normalize_text(question):
            return "empty"
        index = self._current().index
        words = index.content_words(index.analyze(question))
        if not words:
            return "empty"
        if _BARE_NUMBER.fullmatch(normalize_text(question)):
            return "noise"  # 「五十」「三千」: a figure with nothing to say what it is, like 「50」
        if _HAN.search(question) or len(question.split()) > 1 or any(index.known(w) for w in words):
            return None
        return "noise"

    # ---- accessors ----------------------------------------------------------
    @property
    def report(self) -> KBReport:
        return self._current().report

    @property
    def entries(self) -> list[Entry]:
        return list(self._current().index.entries)

    def entry(self, entry_id: str) -> Entry | None:
        index = self._current().index
        i = index.by_id.get(entry_id)
        return None if i is None else index.entries[i]

    def _current(self) -> _State:
        if self._state is None:
            raise RuntimeError("KnowledgeBase not loaded")
        return self._state

    # ---- programme detection ---------------------------------------------
    def asked_programs(self, norm: str, clauses: tuple[Clause, ...] = ()) -> ProgramMention:
        """The programmes a question asks about: those it names (:meth:`detect_programs`), less
        those it only compares with. A programme named as the measure (「跟共好一樣」「和群聚差不多」)
        is not asked about; nor, when the question names several, one named only in a clause
        before the last clause that names one and asks (「共好要上購世代 群聚也要嗎」 asks about 群聚;
        in 「群聚的表格為什麼要問年齡 共好都沒問」 the remark at the end asks nothing)."""
        mention = self.detect_programs(norm)
        if not mention.programs:
            return mention
        without, compared = _COMPARED_WITH.subn("|", norm)
        own = self.detect_programs(without) if compared else mention
        if not own.programs:
            # 「意向書跟數位券的申請表差不多吧」: only a comparison names a programme; the
            # question is the campaign's.
            return own
        if own.programs < mention.programs:
            return own
        families = {self._analyzer.vocab.programs[p].get("family", p) for p in mention.programs}
        if len(families) > 1:
            for clause in reversed(clauses):
                named = self.detect_programs(clause.norm)
                if named.programs:
                    if clause.asks and named.programs < mention.programs:
                        return named
                    break
        return mention

    def detect_programs(self, norm: str) -> ProgramMention:
        programs: dict[str, dict] = self._analyzer.vocab.programs
        families: dict[str, set[str]] = {}
        for pid, spec in programs.items():
            if any(w and w in norm for w in spec["words"]):
                families.setdefault(spec.get("family", pid), set()).add(pid)
        years = _roc_years(norm)
        result: set[str] = set()
        conflict = False
        for family, named in families.items():
            editions = [p for p, s in programs.items() if s.get("family", p) == family]
            by_year = [p for p in editions if set(programs[p]["years"]) & years]
            if by_year:
                result |= set(by_year)
                continue
            if self._year_glued_to_family(norm, programs, family) and any(programs[p]["years"] for p in editions):
                conflict = True
                continue
            older = {p for p in named if not programs[p].get("default")}
            result |= older or named
        if not families and years:
            result |= {p for p, s in programs.items() if set(s["years"]) & years}
        return ProgramMention(programs=result, conflict=conflict and not result)

    def _names_other_year(self, norm: str) -> bool:
        """A year no programme of the knowledge base covers (「113年還會有數位共好計畫嗎」): an entry
        stating some year does not answer it."""
        covered = {y for s in self._analyzer.vocab.programs.values() for y in s.get("years") or ()}
        return bool(_roc_years(norm) - covered)

    @staticmethod
    def _year_glued_to_family(norm: str, programs: dict, family: str) -> bool:
        words = {w for s in programs.values() if s.get("family") == family for w in s["words"]}
        for m in _YEAR.finditer(norm):
            tail = norm[m.end(): m.end() + 6]
            tail = tail.removeprefix("度").removeprefix("的")
            if any(tail.startswith(w) or tail.startswith("數位" + w) for w in words):
                return True
        return False

    # ---- follow-ups ----------------------------------------------------------
    def _is_elliptical(self, norm: str) -> bool:
        if not norm or len(norm) > FOLLOWUP_MAX_CHARS:
            return False
        if norm.endswith("呢") or norm.startswith(_FOLLOWUP_START):
            return True
        facets = self._analyzer.vocab.facets
        rest = norm
        for f in facets:
            rest = rest.replace(f, "")
        return len(rest) <= 1

    @staticmethod
    def _facet_weights(index: SearchIndex, weights: np.ndarray | None, new: list[str], old: list[str]) -> np.ndarray:
        """「那共融呢？」 after a 普及 answer: the user swaps one facet for
        another, so entries about the new facet rise and those about the old
        one (and not the new) sink."""
        out = np.ones(len(index.entries)) if weights is None else weights.copy()
        for i, doc in enumerate(index.docs):
            has_new = any(f in doc.q_norm for f in new)
            if has_new:
                out[i] *= FACET_NEW_WEIGHT
            elif any(f in doc.q_norm for f in old):
                out[i] *= FACET_OLD_WEIGHT
        return out

    def _strip_facets(self, text: str) -> str:
        norm = normalize_text(text)
        for f in self._analyzer.vocab.facets:
            norm = norm.replace(f, "")
        return norm

    def read(self, question: str, index: SearchIndex | None = None) -> str:
        """The question as ``ask`` reads it before anything else: at most MAX_QUERY_CHARS, a
        homophone slip of the programme's words (意相書, 輔道) read as the word (knowledge.sounds), the
        letter register as everyday Mandarin (「敬請告知本計畫之主辦機關為何」) and English words as
        the programme's (「target industry scope」). The calibration fitter reads its questions here
        too, so its features are the ones ``ask`` computes."""
        index = index or self._current().index
        return drop_address(plain_register(english_words(index.sounds.correct((question or "")[:MAX_QUERY_CHARS]))))

    # ---- main entry point ------------------------------------------------------
    def ask(self, question: str, *, program_hint: str | None = None,
            previous_entry_id: str | None = None, role: str | None = None) -> AskResult:
        """Answer ``question`` for an asker of ``role`` (owner | staff | advisor; owner when
        None). Small talk and messages the documents cannot answer by nature (weather, a tax
        return) get their own short reply (``band`` small_talk / declined) without searching."""
        self._maybe_check()
        state = self._current()
        index = state.index
        question = self.read(question, index)
        query = self.classifier.classify(question)
        side = side_of(role, query)
        if query.small_talk:
            # Not matched (no entry answers it); band and intent say it is small talk.
            return AskResult(matched=False, answer=t(f"faq.small_talk_{query.small_talk}"), entry_id=None,
                             score=1.0, band="small_talk", intent=f"small_talk:{query.small_talk}", side=side)
        if query.decline and self.join_words.classify(question, query.norm) is None:
            # 「店裡只有我跟一個工讀生 書店也算在裡面嗎」 asks to join: a labour word in it is the shop's.
            return self._declined(query.decline, side)
        if not query.decline and not query.named and self._other_agencys_subsidy(index, question, query):
            return self._declined("other_agency", side)
        found = self.retrieve(index, question, program_hint=program_hint, previous_entry_id=previous_entry_id,
                              query=query, side=side)
        if found.reason or calibration.band(found.score) != "answer" or \
                found.features.get("fuzzy", 0.0) < calibration.NEAR_EXACT_FUZZY:
            # 「可以報嗎」 is answered from the campaign's rules, unless an entry was written for
            # almost exactly this question.
            joined = self._join_answer(index, question, query, found, side)
            if joined is not None:
                return joined
            if self.classifier.is_introduction(query):
                # 「我開早餐店」「我在夜市賣雞排」 alone asks nothing yet: an entry sharing its words (the
                # coaching content, the tax registration) would be a guess. A greeting back and the way in.
                return AskResult(matched=False, answer=t("faq.introduction" if side == "owner" else "faq.introduction_team"),
                                 entry_id=None, score=1.0, band="small_talk", intent="small_talk:introduction",
                                 side=side, flows=["eligibility"] if side == "owner" else [])
        if calibration.band(found.score) != "answer" and not found.reason:
            last = self._last_ask(index, question, query, found, program_hint=program_hint, side=side)
            if last is not None:
                found = last
        if found.reason or calibration.band(found.score) == "fallback":
            slipped = self.classifier.typo_small_talk(query.text)
            if slipped:
                # Nothing answers a short message one slipped key from 「謝謝」「晚安」: small talk.
                return AskResult(matched=False, answer=t(f"faq.small_talk_{slipped}"), entry_id=None, score=1.0,
                                 band="small_talk", intent=f"small_talk:{slipped}", side=side)
        if found.reason:
            if found.reason == "no candidates" and self._off_topic(index, found, query):
                return self._declined("off_topic", side, debug={"reason": found.reason})
            return self._fallback(0.0, side=side, flows=query.flows, debug={"reason": found.reason})
        cands, score, analysis = found.candidates, found.score, found.analysis
        band = calibration.band(score)
        debug = {"features": found.features, "programs": sorted(found.programs), "followup": found.followup,
                 "side": side, "top": [(index.entries[c.index].id, round(float(c.rank_score), 3)) for c in cands[:5]]}
        if band != "answer" and not found.features.get("topicless"):
            # No entry answers confidently: the passage of the documents that does, quoted.
            from_document = self._document_answer(found, side=side, flows=query.flows, debug=debug)
            if from_document is not None:
                return from_document
        if band == "fallback":
            if self._off_topic(index, found, query):
                return self._declined("off_topic", side, debug=debug)
            return self._fallback(score, side=side, flows=query.flows, debug=debug)
        if band == "suggest":
            return AskResult(matched=False, answer=SUGGEST_TEXT, entry_id=None, score=score, band="suggest",
                             suggestions=self._suggestions(index, cands), side=side, flows=list(query.flows),
                             debug=debug)

        entry, score = self.shown_entry(index, found, side)
        if entry.unstated:
            # The documents do not state what is asked (a shop's penalty, a pass mark): the entry
            # says what they do say. Not matched (no answer in the documents), no staff ticket.
            return AskResult(matched=False, answer=entry.answer, entry_id=entry.id, score=score, band="not_stated",
                             sources=[entry.source], related=self._related(index, entry, cands),
                             program=entry.program, side=side, audience=self._audience(entry, side),
                             flows=list(query.flows), tier="entry", debug=debug)
        answer = entry.answer
        if not found.programs and entry.program not in (found.context_program or self.default_program, "general"):
            # Not the programme this account recruits for, and the question did not name it:
            # say which programme the answer is about.
            answer = f"【{self._label(entry.program)}】{answer}"
        return AskResult(matched=True, answer=answer, entry_id=entry.id, score=score, band="answer",
                         sources=[entry.source], related=self._related(index, entry, cands),
                         program=entry.program, side=side, audience=self._audience(entry, side),
                         counterpart=self._counterpart(index, entry), flows=list(query.flows), tier="entry",
                         debug=debug)

    def shown_entry(self, index: SearchIndex, found: "_Retrieval", side: str) -> tuple[Entry, float]:
        """The entry an answer shows for ``found``: the best candidate, or a close one of the
        owner's programme or written for the asker's side (and its confidence)."""
        cands, analysis, score = found.candidates, found.analysis, found.score
        top = cands[0]
        entry = index.entries[top.index]
        if (not found.programs and found.context_program
                and entry.program not in (found.context_program, "general")):
            # The owner's context names a programme and the question fits it about as well
            # as another programme's parallel entry ("要幾家才能申請？" from a 群聚 owner).
            preferred = self._preferred(index, analysis, cands, lambda e: e.program == found.context_program)
            if preferred is not None:
                top, score = preferred
                entry = index.entries[top.index]
        if entry.unstated:
            # 「這些都沒寫」 answers only what the documents do not state: when an entry that does
            # answer covers the question as well (「前後側?」 and the 前後測 entry, next to 「前後測
            # 有及格分數嗎」), that entry answers.
            # (One about a condition — a date, a pass mark — is not even a candidate for a question
            # that does not ask for it: _applicable.) When the question asks for a condition (a
            # place, a date), the ordinary entry must cover it in its own phrasings too: 「時間地點由
            # 提案單位通知」 at the end of the workshops' answer is not where they are held.)
            # An entry for another side does not displace one written for the asker (「我可以拿多少錢」:
            # the owner's "no per-shop amount" answer, not the unit's budget tiers).
            plain = next((c for c in cands[1:5] if not index.entries[c.index].unstated
                          and (index.entries[c.index].for_side(side) or not entry.for_side(side))), None)
            if plain is not None and plain.coverage and top.coverage and plain.coverage[1] >= top.coverage[1] - 1e-6 \
                    and (not analysis.asked or plain.coverage[0] >= top.coverage[0] - 1e-6) \
                    and plain.rank_score >= CHOICE_CLOSENESS * top.rank_score:
                top, entry = plain, index.entries[plain.index]
                score = calibration.confidence(calibration.features(index, analysis, plain, None))
        if not entry.for_side(side):
            # Written for another side (the unit's budget tiers for an owner): an entry for the
            # asker that fits about as well wins; otherwise this one answers, labelled by audience.
            preferred = self._preferred(index, analysis, cands, lambda e: e.for_side(side) and not e.unstated,
                                        covering=True)
            if preferred is not None:
                top, score = preferred
                entry = index.entries[top.index]
        return entry, score

    def retrieve(self, index: SearchIndex, question: str, *, program_hint: str | None = None,
                 previous_entry_id: str | None = None, query: Query | None = None,
                 side: str | None = None) -> "_Retrieval":
        """Candidates and calibrated confidence for ``question`` on ``index``
        (separate from :meth:`ask` so calibration can run on held-out indexes)."""
        question = (question or "")[:MAX_QUERY_CHARS]
        norm = normalize_text(question)
        if not norm or not index.entries:
            return _Retrieval(reason="empty")
        query = query or self.classifier.classify(question)
        split = ({"core": query.core_norm, "context": query.context_norm, "facts": query.facts_norm}
                 if query.context_norm or query.facts_norm or query.core_norm != norm else {})
        core = index.analyze(query.core_norm) if split else None
        if split.get("facts") and index.topic_mass(core) >= FIGURES_AS_CONTEXT_MASS:
            split = {**split, **self._figures_as_context(query)}
        if split.get("context"):
            # 「我開早餐店 計畫到幾月」: the trade describes the asker; weighed even at the context's
            # share it draws a short question to the entries that list trades (stop 38: +7, -2 on
            # 12,740 tuning and dev lines). A question about trades (「住宿業算在裡面嗎」) keeps it.
            split = {**split, "context": self.join_words.without_trades(split["context"], asked=query.core_norm)}
        if split and not set(index.content_words(core)) - BARE_ASK_VERBS:
            # Nothing but a bare ask is left (「我們雲端方案放自家機房私有雲 可以嗎」「…這樣可以提
            # 嗎」): what was told is what is asked about.
            split = {}
        analysis = index.analyze(question, **split)
        mention = self.asked_programs(norm, query.clauses)
        context_program = program_hint
        prev_i = index.by_id.get(previous_entry_id) if previous_entry_id else None
        previous = index.entries[prev_i] if prev_i is not None else None
        followup = False
        new_facets: list[str] = []
        old_facets: list[str] = []
        if previous is not None and self._is_elliptical(norm):
            followup = True
            new_facets = self._analyzer.vocab.facets_in(norm)
            extra = self._strip_facets(previous.question) if new_facets else normalize_text(previous.question)
            analysis = index.analyze(question, extra=extra, **split)
            old_facets = [f for f in self._analyzer.vocab.facets_in(normalize_text(previous.question)) if f not in new_facets]
            if not mention.programs and previous.program != "general":
                context_program = previous.program
        if mention.conflict:
            return _Retrieval(reason="edition not covered", programs=mention.programs)
        if not followup and not index.content_words(analysis):
            return _Retrieval(reason="no content words")  # 「a」「123」「？？」
        weights = self._program_weights(index, mention.programs, context_program)
        if side:
            weights = weights * np.where(index.for_side[side], 1.0, OTHER_SIDE_WEIGHT)
        if new_facets:
            weights = self._facet_weights(index, weights, new_facets, old_facets)
        cands = self._applicable(index, analysis, index.search(analysis, weights=weights))
        if not cands:
            return _Retrieval(reason="no candidates", programs=mention.programs, analysis=analysis)
        features = calibration.features(index, analysis, cands[0], self._runner_up(index, cands))
        if mention.programs and index.entries[cands[0].index].program not in mention.programs | {"general"}:
            features["program_mismatch"] = 1.0
        score = calibration.confidence(features)
        if not mention.programs and calibration.band(score) != "answer" and len(norm) > ELLIPTIC_MAX_CHARS:
            # Nothing in the campaign's programme answers: another (current) programme may
            # (「數位程度最低的那一級」 is only in 004). Searched again without the lean.
            lean = self._program_weights(index, set(), None, lean=False)
            if side:
                lean = lean * np.where(index.for_side[side], 1.0, OTHER_SIDE_WEIGHT)
            others = self._applicable(index, analysis, index.search(analysis, weights=lean))
            current = context_program or self.default_program
            parallel = any(index.entries[c.index].program == current
                           and c.rank_score >= CHOICE_CLOSENESS * others[0].rank_score for c in others[1:4])
            # A parallel entry of the current programme about as good (「輔導做到幾月」 in 共好 and
            # 群聚) means the question is the current programme's, even if it is not sure.
            if others and not parallel and index.entries[others[0].index].program not in (current, "general"):
                other_features = calibration.features(index, analysis, others[0], self._runner_up(index, others))
                other_score = calibration.confidence(other_features)
                if other_score > score:
                    cands, features, score = others, other_features, other_score
        mass = index.topic_mass(analysis)
        elliptic = (mass > 0 and features["cov_all"] >= 0.99
                    and (any(is_interrogative(w) for w in analysis.words)
                         or any(a in analysis.norm for a in ELLIPTIC_ASKS))
                    and not self._names_other_year(norm))
        if (not followup and mass < calibration.MIN_TOPIC_MASS and not elliptic
                and features["fuzzy"] < calibration.NEAR_EXACT_FUZZY):
            # Only a programme/track name or a bare question word
            # (「共融呢」「B類」「今天幾號」) and no topic: too vague to answer;
            # offer the likely questions instead (suggest band).  A question
            # almost identical to a KB phrasing (「數位券是什麼」) is not vague,
            # and a follow-up inherits the previous question's topic.  Nor is a short
            # question that asks for something (「幾號前要用」「要簽什麼」「輔導到幾月」) and
            # whose every word the best entry covers: with the campaign as the default
            # programme it has one answer.
            score = calibration.TOPICLESS_CAP
            features["topicless"] = 1.0
        return _Retrieval(candidates=cands, analysis=analysis, features=features,
                          score=score, programs=mention.programs,
                          context_program=context_program, followup=followup)

    def _other_agencys_subsidy(self, index: SearchIndex, question: str, query: Query) -> bool:
        """The message asks about a subsidy of a government body the knowledge base never names
        (「環保署的汰換補助可以申請嗎」): that agency answers it, not the programme's documents. Earlier
        funding from it (「去年拿過環保署的補助 還能報嗎」) is a question about joining and stays one."""
        if not _SUBSIDY.search(query.norm):
            return False
        unknown = [name for name in _AGENCY.findall(query.norm)
                   if not any(index.known(name[i:]) for i in range(len(name) - 1))]
        if not unknown:
            return False
        asked = self.join_words.classify(question, query.norm)
        return asked is None or asked.kind != "prior"

    # ---- 「可以報嗎」 from the campaign's rules -----------------------------------------
    def _join_answer(self, index: SearchIndex, question: str, query: Query, found: "_Retrieval",
                     side: str) -> AskResult | None:
        rules = self.join_rules
        if rules is None or (found.context_program and found.context_program != rules.program):
            return None
        asked = self.join_words.classify(question, query.norm)
        if found.programs and not found.programs <= {rules.program, "general"}:
            # Another programme named: its entries answer, or staff do; unless it is named only as the
            # shop's earlier funding (「我們今年有參加數位群聚 還可以同時報這個嗎」).
            told = query.norm.replace(asked.prior[0], "|", 1) if asked is not None and asked.prior else None
            if told is None or not self.detect_programs(told).programs <= {rules.program, "general"}:
                return None
        if asked is None and self.classifier.is_introduction(query):
            # 「我們是小吃店 有五個員工」: an owner introducing the shop with the facts the rules
            # depend on, and no question yet, hears what those facts mean for joining.
            facts = eligibility_facts(question)
            asked = JoinQuestion(kind="general", facts=facts) if facts else None
        if asked is None:
            return None
        residual = self._join_residual(index, query, trade_asked=asked.kind == "industry")
        if residual > JOIN_RESIDUAL_MAX:
            return None  # it asks about something else too (「沒有email 可以參加嗎」): entries answer
        if residual > JOIN_ENTRY_RESIDUAL and not found.reason and calibration.band(found.score) == "answer":
            return None  # an entry answers what else it asks
        answer, sources = rules.answer(asked)
        flows = list(query.flows) if "eligibility" in query.flows else ["eligibility", *query.flows]
        related = self._suggestions(index, found.candidates) if found.candidates else []
        return AskResult(matched=True, answer=answer, entry_id=None, score=1.0, band="answer",
                         sources=[s for s in sources if s], related=related, program=rules.program, side=side,
                         audience=side, intent=f"eligibility:{asked.kind}", flows=flows, tier="rules",
                         debug={"join": asked.kind, "facts": asked.facts, "features": found.features})

    def _figures_as_context(self, query: Query) -> dict[str, str]:
        """The told facts split into the self-description (a headcount, a turnover) and the facts that
        stay part of the question (registration, earlier funding: intents.yaml standing_facts)."""
        standing = self.classifier.standing_facts
        figures, kept = [], []
        for clause in query.clauses:
            if clause.context and clause.fact:
                (kept if standing is not None and standing.search(clause.norm) else figures).append(clause.norm)
        return {"context": query.context_norm + "".join(figures), "facts": "".join(kept)}

    def _last_ask(self, index: SearchIndex, question: str, query: Query, found: "_Retrieval", *,
                  program_hint: str | None, side: str) -> "_Retrieval | None":
        """A message of several asking clauses that no entry answers as a whole (「政府出錢幫我們上
        雲端 會不會被騙啊 到底是哪個單位在辦的」): its last question, with the rest as what was told.
        The last clause is tried first, then the last one with a question word (「…顧問到底要來幾次
        我們店很小 不要一直來啦」: the remark after the question asks nothing), then the one with a
        question word before that (「…總共有幾堂 我可以帶員工去嗎」) unless the last asks a detail of it,
        and, when the last has no topic of its own (「…其他的之後再補 真的可以嗎」), each clause before it."""
        # Clauses in words (an English sentence is split at every space: 「I want to join」 is one ask).
        asking = [i for i, c in enumerate(query.clauses) if not c.context and _HAN.search(c.norm)]
        if len(asking) < 2 or found.features.get("unknown", 0.0) >= LAST_ASK_MAX_UNKNOWN:
            return None
        marked = [i for i in asking if query.clauses[i].asks]
        last = query.clauses[marked[-1]].norm if marked else ""
        earlier: list[int] = []
        if index.vocab.asked_in(last) or _QUANTITY.search(last):
            # 「…可以退出嗎 要賠違約金嗎」: the last question asks a detail (a sum, a date, a fine) of the
            # one before; answering the one before alone would pass over what was asked.
            marked = marked[-1:]
        elif index.topic_mass(index.analyze(query.clauses[asking[-1]].norm)) < calibration.MIN_TOPIC_MASS:
            # A last clause with no topic of its own (「這樣對嗎」「是真的嗎」「會怎樣」) asks about what
            # was said before it: each earlier clause may be the question. One with its own topic
            # (「…可以拿來報稅嗎」) is the question; an earlier clause answered alone would pass it over.
            earlier = asking[-2::-1]
        # The last sentence first, when commas make it several clauses (「…被罵到臭頭 這次的系統如果常
        # 當機，有什麼保障嗎」): its condition belongs to its question.
        start = asking[-1]
        while start > 0 and query.clauses[start].joined and not query.clauses[start - 1].context:
            start -= 1
        sentence = (tuple(range(start, asking[-1] + 1)),) if start < asking[-1] else ()
        for keep in dict.fromkeys([*sentence, *((i,) for i in [asking[-1]] + marked[-2:][::-1] + earlier)]):
            again = self._ask_alone(index, question, query, found, keep, program_hint=program_hint, side=side)
            if again is not None:
                return again
        return None

    def _ask_alone(self, index: SearchIndex, question: str, query: Query, found: "_Retrieval",
                   keep: tuple[int, ...], *, program_hint: str | None, side: str) -> "_Retrieval | None":
        """The message retrieved again with clauses ``keep`` (one clause or a sentence) as the
        question and the rest as context, when that answers confidently and agrees with the whole
        message's top 3."""
        asked = "".join(query.clauses[i].norm for i in keep)
        if self.classifier.classify(asked).decline:
            return None  # 「…收我三千塊手續費 這樣合法嗎」: the last question is legal advice
        if not [w for w in index.content_words(index.analyze(asked)) if not is_interrogative(w)]:
            return None  # 「…要自己付錢嗎 多少」: the last question is elliptic, it asks about the one before
        clauses = tuple(c if i in keep or c.context else replace(c, context=True)
                        for i, c in enumerate(query.clauses))
        narrowed = replace(query, clauses=clauses)
        again = self.retrieve(index, question, program_hint=program_hint, query=narrowed, side=side)
        if again.reason or calibration.band(again.score) != "answer" or again.features.get("topicless"):
            return None
        if again.candidates[0].index not in {c.index for c in found.candidates[:LAST_ASK_TOP]}:
            return None  # the question alone points elsewhere than the whole message
        return again

    def _join_residual(self, index: SearchIndex, query: Query, *, trade_asked: bool = False) -> float:
        """The topic left in a join question without the ask, the shop's facts, trades and earlier
        funding: the weight of the knowledge base's words among what remains. The clause that asks
        (or sets a condition: 「如果我不想給個資」) counts fully; the owner's other clauses describe the
        shop (「我在夜市賣蔥油餅」) and count at CONTEXT_KNOWN_WEIGHT (「我沒有在用email」 is still a
        topic); a clause about earlier funding (「今年原民會有來輔導我們做網路行銷」) not at all, nor, when the
        question is whether the trade is in scope (``trade_asked``), a clause describing the trade
        (「做牙科材料批發 客人都是診所」; one naming a tool or the programme's things still counts)."""
        skip = self._analyzer.vocab.all_program_words
        words = self.join_words
        shop = self.classifier.shop
        domain = self.classifier.domain
        total = 0.0
        for clause in query.clauses or (Clause(norm=query.norm, context=False),):
            if words.about_prior(clause.norm) or clause.speaker:
                continue
            if shop is not None and not words.asks_in(clause.norm) and shop.fullmatch(clause.norm):
                continue  # 「修車廠 師傅加學徒10個 是不是就不能參加了」: the shop's name, not a topic
            asking = words.asks_in(clause.norm)
            if trade_asked and not asking and not (domain is not None and domain.search(clause.norm)):
                continue
            analysis = index.analyze(words.residual(clause.norm))
            trade = self._leading_shop(index, clause.norm) if asking else frozenset()
            for w in index.content_words(analysis):
                if w in skip or is_interrogative(w) or words.is_filler(w):
                    continue
                if shop is not None and not index.known(w) and (shop.fullmatch(w) or w in trade):
                    continue  # the shop's own trade (「我的乾洗店還能參加嗎」), not another topic
                if index.known(w):
                    total += (1.0 if asking else CONTEXT_KNOWN_WEIGHT) * index._word_weight(w)
                elif asking:
                    # A word the knowledge base does not know, in the asking clause, is what is asked
                    # about (「可以參加說明會嗎」): it counts, as unknown words do in coverage.
                    total += UNKNOWN_IN_COVERAGE * index._word_weight(w)
        return total

    def _leading_shop(self, index: SearchIndex, norm: str) -> frozenset[str]:
        """The words the knowledge base does not know in the shop named at the start of an asking
        clause (「花藝店可以apply嗎」「書法教室可以參加嗎」): the shop that asks, not a second topic."""
        shop = self.classifier.shop
        if shop is None:
            return frozenset()
        for end in range(2, min(len(norm), 8)):
            if shop.fullmatch(norm[:end]):
                return frozenset(w for w in index.content_words(index.analyze(norm[:end])) if not index.known(w))
        return frozenset()

    # ---- the documents as a second tier ----------------------------------------
    def retrieve_passage(self, found: "_Retrieval") -> "_Retrieval":
        """The passages that answer the question of ``found`` (an entry retrieval), with the
        calibrated confidence of the best one (knowledge.calibration.passage_confidence)."""
        passages = self.passages
        if passages is None or not len(passages) or found.analysis is None:
            return _Retrieval(reason="no documents")
        pindex = passages.index
        weights = self._program_weights(pindex, found.programs, found.context_program)
        if not found.programs:
            # Superseded editions (110年 群聚, the old FAQ) never lead an answer unless named.
            superseded = self._superseded(found.context_program or self.default_program)
            weights = np.where(np.isin(pindex.programs, superseded), 0.0, weights)
        cands = pindex.search(found.analysis, weights=weights, k=PASSAGE_SEARCH_K)
        if not cands:
            return _Retrieval(reason="no candidates", analysis=found.analysis)
        features = calibration.features(pindex, found.analysis, cands[0], self._separate_runner_up(passages, cands))
        if found.programs and pindex.entries[cands[0].index].program not in found.programs | {"general"}:
            features["program_mismatch"] = 1.0
        return _Retrieval(candidates=cands, analysis=found.analysis, features=features,
                          score=calibration.passage_confidence(features), programs=found.programs,
                          context_program=found.context_program)

    @staticmethod
    def _separate_runner_up(passages: PassageIndex, cands: list[Candidate]) -> Candidate | None:
        """The best passage that does not overlap the first (windows share items)."""
        first = passages.passage(cands[0].index)
        for cand in cands[1:]:
            other = passages.passage(cand.index)
            if other.doc != first.doc or not passages.overlap(first, other):
                return cand
        return None

    def _document_answer(self, found: "_Retrieval", *, side: str, flows=(), debug: dict) -> AskResult | None:
        got = self.retrieve_passage(found)
        debug["document"] = {"features": got.features, "score": round(got.score, 4),
                             "top": [self.passages.passage(c.index).id for c in got.candidates[:3]]
                             if got.candidates else []}
        if got.reason or not calibration.passage_accepted(got.features):
            return None
        passage = self.passages.passage(got.candidates[0].index)
        quote = excerpt(passage, got.analysis, self.passages.index)
        answer = t("faq.document_answer", excerpt=quote)
        if not found.programs and passage.program not in (found.context_program or self.default_program, "general"):
            answer = f"【{self._label(passage.program)}】{answer}"
        section = passage.headings[-1] if passage.headings else ""
        return AskResult(matched=True, answer=answer, entry_id=None, score=got.score, band="answer",
                         sources=[f"{passage.doc} {section}".strip()], program=passage.program, side=side,
                         audience="unit", flows=list(flows), tier="document", debug=debug)

    # ---- helpers -------------------------------------------------------------
    @staticmethod
    def _applicable(index: SearchIndex, analysis: Analysis, cands: list[Candidate]) -> list[Candidate]:
        """Without the unstated entries about a condition the question does not ask for: 「前後測
        有及格分數嗎」 says nothing to 「抽測是要考我嗎」."""
        asked = {kind for kind, _ in analysis.asked}
        return [c for c in cands if not index.entries[c.index].unstated
                or not index.docs[c.index].asked_kinds or index.docs[c.index].asked_kinds & asked]

    @staticmethod
    def _runner_up(index: SearchIndex, cands: list[Candidate]) -> Candidate | None:
        """The competitor for the margin feature: the best other entry of the same
        programme (or a general one).  The same question answered by another
        programme's parallel entry (「輔導期間到什麼時候」 for 共好 and 群聚) is not
        doubt about the topic; it is handled by the programme choice instead."""
        top = index.entries[cands[0].index]
        for cand in cands[1:]:
            other = index.entries[cand.index]
            if other.unstated and not top.unstated:
                continue  # what the documents do not say about the topic is not doubt about the topic
            if top.id == other.counterpart or other.id == top.counterpart:
                continue  # the same topic answered for the other side is not doubt about the topic
            if other.program in (top.program, "general"):
                return cand
        return None

    def _program_weights(self, index: SearchIndex, named: set[str], context: str | None, *,
                         lean: bool = True) -> np.ndarray:
        """Per-entry multipliers for the programme(s) in play. Named in the question: those
        programmes (others sink). Otherwise the programme the owner's context settles, or the
        campaign's: other programmes answer only what it cannot (OTHER_PROGRAM_WEIGHT), and
        superseded editions (110年 群聚, the old rules) practically never lead an answer."""
        programs = index.programs
        if named:
            others = np.where(programs == "general", EXPLICIT_GENERAL_WEIGHT, EXPLICIT_OTHER_WEIGHT)
            return np.where(np.isin(programs, list(named)), 1.0, others)
        current = context or self.default_program
        superseded = self._superseded(current)
        weights = np.where(np.isin(programs, [current, "general"]) | (not lean), 1.0, OTHER_PROGRAM_WEIGHT)
        return np.where(np.isin(programs, superseded), SUPERSEDED_WEIGHT, weights)

    def _superseded(self, current: str) -> list[str]:
        """Older editions: a programme of a family whose current edition is another one."""
        specs = self._analyzer.vocab.programs
        current_editions = {spec.get("family", p) for p, spec in specs.items() if spec.get("default")}
        return [p for p, spec in specs.items()
                if p != current and not spec.get("default") and spec.get("family", p) in current_editions]

    def _preferred(self, index: SearchIndex, analysis: Analysis, cands: list[Candidate],
                   wanted, covering: bool = False) -> tuple[Candidate, float] | None:
        """The best of the next candidates whose entry is ``wanted`` (its programme or side),
        when it fits about as well as the top one and is itself a confident answer. With
        ``covering``, it must also cover the question's words as well as the top one: an owner
        asking 「普及A級要輔導幾家」 gets the unit's tier table, not the track's general description."""
        top = cands[0]
        for cand in cands[1:5]:
            if not wanted(index.entries[cand.index]):
                continue
            if cand.rank_score < CHOICE_CLOSENESS * top.rank_score:
                return None
            if covering and top.coverage and (not cand.coverage or cand.coverage[1] < top.coverage[1] - 1e-6):
                return None
            score = calibration.confidence(calibration.features(index, analysis, cand, None))
            return (cand, score) if calibration.band(score) == "answer" else None
        return None

    def _label(self, program: str) -> str:
        return self._analyzer.vocab.programs.get(program, {}).get("label", program)

    @staticmethod
    def _audience(entry: Entry, side: str) -> str:
        """Who the answer shown is written for: the asker's side when the entry is for them
        (or for everyone), else the entry's own first audience."""
        return side if entry.for_side(side) else entry.audience[0]

    @staticmethod
    def _counterpart(index: SearchIndex, entry: Entry) -> dict[str, str] | None:
        i = index.by_id.get(entry.counterpart or "")
        if i is None:
            return None
        other = index.entries[i]
        return {"entry_id": other.id, "question": other.question,
                "audience": other.audience[0] if other.audience else ""}

    def _off_topic(self, index: SearchIndex, found: "_Retrieval", query: Query) -> bool:
        """Clearly not about the programme: most of the question's specific words occur nowhere
        in the knowledge base and nothing in it names the programme or its vocabulary. Such a
        message is declined politely rather than handed to staff as an unanswered question."""
        if found.programs or query.flows:
            return False
        if any(pattern is not None and pattern.search(query.norm)
               for pattern in (self.classifier.anchors, self.classifier.domain)):
            return False
        joining = self.join_words
        if (joining.asks is not None and joining.asks.search(query.norm)) or (
                joining.weak is not None and joining.weak.search(query.norm) and SHOP_WORD.search(query.norm)):
            # 「殯葬業可以嗎」「外國人開的店可以嗎」 ask whether a shop can join: a programme question
            # even when no entry knows the trade (staff answer it), never "only programme questions".
            return False
        if found.reason == "no candidates":
            # Not one word the knowledge base knows and none of the programme's (「今天星期幾」
            # 「我老公不理我」). Latin letters alone are noise or an English sentence (not_a_question;
            # an English sentence may be an owner's real question): those are left to their handling.
            return bool(_HAN.search(query.text)) and self.not_a_question(query.text) is None
        if found.features.get("unknown", 0.0) < OFF_TOPIC_UNKNOWN:
            return False
        # Words the entries never say but the programme documents do (食品製造, 期末簡報) are the
        # programme's own: such a question goes to staff, it is not off-topic.
        passages = self.passages
        return passages is None or found.analysis is None or \
            passages.index.unknown_share(found.analysis) >= OFF_TOPIC_UNKNOWN

    @staticmethod
    def _declined(kind: str, side: str, *, debug: dict[str, Any] | None = None) -> AskResult:
        return AskResult(matched=False, answer=t(f"faq.decline_{kind}"), entry_id=None, score=0.0, band="declined",
                         intent=f"declined:{kind}", side=side, debug=debug or {})

    @staticmethod
    def _suggestions(index: SearchIndex, cands: list[Candidate]) -> list[dict[str, str]]:
        out, seen = [], set()
        for c in cands:
            e = index.entries[c.index]
            if e.id in seen:
                continue
            seen.add(e.id)
            out.append({"entry_id": e.id, "question": e.question})
            if len(out) == 3:
                break
        return out

    @staticmethod
    def _related(index: SearchIndex, entry: Entry, cands: list[Candidate]) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        ids = [r for r in entry.related if r in index.by_id and r != entry.id]
        for c in cands[1:]:
            other = index.entries[c.index]
            if other.program in (entry.program, "general") and other.id not in ids and other.id != entry.id:
                ids.append(other.id)
        for rid in ids[:3]:
            out.append({"entry_id": rid, "question": index.entries[index.by_id[rid]].question})
        return out

    @staticmethod
    def _fallback(score: float, *, side: str = "owner", flows=(), debug: dict[str, Any] | None = None) -> AskResult:
        return AskResult(matched=False, answer=FALLBACK_TEXT, entry_id=None, score=score, band="fallback",
                         side=side, flows=list(flows), debug=debug or {})
