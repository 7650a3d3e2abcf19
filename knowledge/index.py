"""Chinese-aware lexical index over knowledge-base entries.

Retrieval = BM25 (bm25s) over two fields per entry, then a rapidfuzz rerank of
the top-k:

* tokens: jieba words (with ``domain_dict.txt`` so that 意向書, 統一編號,
  雲端服務供應商 ... stay whole) of 3+ characters, every ASCII run (api, sla,
  40mb, 9), and character bigrams over the normalised text.  Bigrams make the
  index robust to jieba's mistakes on Traditional text and to typos; words give
  exact multi-character terms extra weight.
* field "q": canonical question (twice: it is the most careful phrasing),
  alternatives and tags; field "a": the answer, weighted lower (ANSWER_WEIGHT)
  because answers mention many neighbouring topics.
* synonyms (``synonyms.yaml``) are applied at query time: each query term found
  in a synonym group adds the group's other members at SYNONYM_WEIGHT.
* rerank: rapidfuzz ``token_set_ratio``/``token_sort_ratio`` between the
  segmented query and each phrasing of a candidate (tokens joined by spaces,
  because rapidfuzz's token scorers split on whitespace), plus a bonus for the
  share of the query's specific words the candidate covers.

The index also exposes the features used to calibrate confidence (service.py):
idf-weighted coverage of the query's content words by the candidate, the share
of the query that is unknown to the whole KB, fuzzy similarity and the BM25
margin between the first two candidates.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import bm25s
import jieba
import numpy as np
import yaml
from rapidfuzz import fuzz

from .loader import AUDIENCES, Entry
from .normalize import normalize_text, to_simplified
from .query import alternation
from .sounds import SoundCorrector

# bm25s sets its own logger to DEBUG when it is imported (here, often after the app's logging setup),
# so its level is set here: otherwise every index build logs two DEBUG lines whatever LOG_LEVEL says.
logging.getLogger("bm25s").setLevel(logging.WARNING)

KNOWLEDGE_DIR = Path(__file__).resolve().parent
DOMAIN_DICT = KNOWLEDGE_DIR / "domain_dict.txt"
SYNONYMS_FILE = KNOWLEDGE_DIR / "synonyms.yaml"
INTENTS_FILE = KNOWLEDGE_DIR / "intents.yaml"

# Field weights, chosen by leave-one-alternative-out retrieval on the KB
# (fit_calibration.py): answers matter, but less than the questions.
ANSWER_WEIGHT = 0.6
SYNONYM_WEIGHT = 0.5      # an expanded term is weaker evidence than the user's own word
# Self-description (「我開美甲店 只有我跟妹妹兩個人」): a word the KB knows still says something
# (員工, 稅籍, 中企處) but less than the question's own words; a word it does not know (美甲,
# 妹妹) says nothing about which entry answers and must not make the question look off-topic.
CONTEXT_KNOWN_WEIGHT = 0.3
FRAME_WEIGHT = 0.3         # a word that only says when in the programme's year (intents.yaml frame)
CONTEXT_TOKEN_WEIGHT = 0.4
UNKNOWN_IN_COVERAGE = 0.5
RERANK_K = 12             # candidates passed to the fuzzy rerank
FUZZ_WEIGHT = 0.3         # share of the rerank score given to fuzzy similarity
# Rerank bonus for covering the query's specific words (see coverage()); only
# for candidates within half of the best BM25 score.  Both chosen on the KB's
# own leave-one-alternative-out retrieval (top-1 0.53 -> 0.56), not on dev.
COVERAGE_WEIGHT = 0.25
COVERAGE_RERANK_MIN = 0.5
# The rerank (SearchIndex.search): a linear score over each of the BM25 top-k candidates' features
# (rel: BM25 relative to the best; rel_q / rel_a: each field's BM25 relative to its best; fuzzy;
# cov_q / cov_all / worst_miss: SearchIndex.coverage; intent_mismatch; weight: the programme and
# side multiplier).  Fitted by knowledge.fit_calibration on the tuning sets (see there).  Round 5 added
# cov_q (the question covered by the entry's own phrasings) and intent_mismatch: between two entries
# sharing the question's words, the one written for this ask (「最少要用幾個工具」: what the shop gets,
# not the usage minimum) leads; grid over both on the six tuning sets: +6 right, 1 lost, no off-topic.
RANK_WEIGHTS = {"rel": 0.7, "fuzzy_w": 0.3, "cov_near": 0.25, "cov_q": 0.1, "intent_mismatch": -0.05}
KB_IDF_SPECIFIC = 3.0     # idf of a word in ~5% of entries: fully specific
INTERROGATIVE_WEIGHT = 2.0  # 幾份 / 哪幾家 / 多少錢
UNIT_ASK_WEIGHT = 4.0       # 幾分鐘 / 幾分 / 幾小時 unanswered by an entry: the question's point
ASKED_MISS_WEIGHT = 8.0     # a pass mark, a percentage, a fine… (intents.yaml asked) the entry does not state
GENERAL_BASE_IDF = 7.5    # log(total/freq) of very common words (比較, 今年, 辦法 ~ 8-9)
GENERAL_UNSEEN_IDF = 14.0  # words jieba's dictionary lacks (often HMM-glued fragments)
# jieba's dictionary lists many everyday phrases with a token count (下個月 3, 講清楚 3, 簽下去 3,
# 教完 3, 接案 3), and the owners' words of synonyms.yaml (簽完, 裝好, 符合規定) get a low count when
# added: read as a frequency, they look as specific as a topical term and an owner's phrasing
# outweighs the question's topic. Such a rare word (count <= COMPOSITE_MAX_FREQ) that the answers
# never use weighs at most the sum of the parts it is made of (下+個月, 講+清楚) plus COMPOSITE_BONUS;
# the documents' terms (the domain dictionary, programme names, words in the answers) keep theirs.
# Measured on the four tuning sets: 3+ characters only +2 -1; with the owners' synonyms and
# two-character words +5 -2 (off-topic unchanged).
COMPOSITE_MAX_FREQ = 20
COMPOSITE_BONUS = 1.0
COMPOSITE_MIN_LEN = 2

jieba.setLogLevel(logging.WARNING)
# The weight of a generic name of the shop's tool (Vocabulary.generic), about that of 工具/系統.
GENERIC_WEIGHT = 2.5
_ASCII_RUN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
_UNIT = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?|[^a-z0-9]")


@dataclass(frozen=True)
class Vocabulary:
    """Retrieval vocabulary loaded from synonyms.yaml (normalised)."""

    synonym_groups: tuple[frozenset[str], ...]
    stopwords: frozenset[str]
    facets: tuple[str, ...]
    programs: dict
    advice: tuple[str, ...] = ()
    # synonyms.yaml ``generic``: names of the shop's own tool (pos, app, 收銀機) that weigh as an
    # ordinary word: the question is about what is done with the tool, not about the brand of tool
    generic: frozenset[str] = frozenset()
    default_program: str | None = None
    intents: tuple[tuple[str, "re.Pattern[str]"], ...] = ()
    # intents.yaml ``asked``: (kind, what the question asks for, what an answer must state)
    asked: tuple[tuple[str, "re.Pattern[str]", "re.Pattern[str]"], ...] = ()
    # asked kinds with ``narrows: false``: an unstated entry phrased with one still answers plainer
    # questions on its topic (「可以拿多少錢」 as well as 「一家店分多少」)
    broad_kinds: frozenset[str] = frozenset()
    # intents.yaml ``frame``: words that only place a question in the programme's year
    # (「簽完」「入選後」), matched against a whole word
    frame: "re.Pattern[str] | None" = None
    # intents.yaml ``domain`` and ``anchors``: the programme's words (terms a homophone slip is read as)
    domain_words: tuple[str, ...] = ()
    # the first word of each synonym group (顧問, 補助), not the owners' everyday words (要錢, 以前)
    class_words: tuple[str, ...] = ()
    # term -> the other members of every group it is in (built once: looked up per query word)
    _synonyms: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for term in {t for group in self.synonym_groups for t in group}:
            out: set[str] = set()
            for group in self.synonym_groups:
                if term in group:
                    out |= group
            out.discard(term)
            self._synonyms[term] = out

    def facets_in(self, norm: str) -> list[str]:
        """The facets ``norm`` names, longest first (數位共融 before the 共融 inside it)."""
        found: list[str] = []
        for f in self.facets:
            if f in norm:
                found.append(f)
                norm = norm.replace(f, "|")
        return found

    def intents_of(self, norm: str) -> frozenset[str]:
        return frozenset(name for name, pattern in self.intents if pattern.search(norm))

    def asked_in(self, norm: str) -> tuple[tuple[str, "re.Pattern[str]"], ...]:
        """The specific quantities or conditions ``norm`` asks for: (kind, answer pattern)."""
        return tuple((kind, answer) for kind, question, answer in self.asked if question.search(norm))

    @classmethod
    def load(cls, path: Path = SYNONYMS_FILE, intents_path: Path = INTENTS_FILE) -> "Vocabulary":
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        intents_data = (yaml.safe_load(intents_path.read_text(encoding="utf-8")) or {}) if intents_path.exists() else {}
        # Patterns are normalised as the text is (query.alternation: 「哪一天」 matches 哪1天).
        asked = tuple((str(kind), alternation((spec["question"],)), alternation((spec["answer"],)))
                      for kind, spec in (intents_data.get("asked") or {}).items())
        broad = frozenset(str(kind) for kind, spec in (intents_data.get("asked") or {}).items()
                          if spec.get("narrows") is False)
        groups = tuple(
            frozenset(t for t in (normalize_text(str(w)) for w in group) if t)
            for group in data.get("synonyms", [])
        )
        stop = frozenset(normalize_text(str(w)) for w in data.get("stopwords", []))
        facets = tuple(sorted({normalize_text(str(w)) for w in data.get("facets", [])}, key=len, reverse=True))
        programs = {}
        for pid, spec in (data.get("programs") or {}).items():
            spec = dict(spec or {})
            spec["words"] = sorted({normalize_text(str(w)) for w in spec.get("words", [])}, key=len, reverse=True)
            spec["years"] = [int(y) for y in spec.get("years", [])]
            spec["names"] = {normalize_text(str(w)) for w in spec.get("names", [])}
            spec["documents"] = [str(d).zfill(3) for d in spec.get("documents", [])]
            programs[pid] = spec
        advice = tuple(normalize_text(str(w)) for w in data.get("advice", []))
        intents = tuple((str(k), alternation((v,))) for k, v in (data.get("intents") or {}).items())
        generic = frozenset(normalize_text(str(w)) for w in data.get("generic", []))
        return cls(synonym_groups=groups, stopwords=stop, facets=facets, programs=programs, advice=advice,
                   generic=generic,
                   default_program=data.get("default_program"), intents=intents, asked=asked, broad_kinds=broad,
                   frame=alternation(intents_data.get("frame")),
                   class_words=tuple(normalize_text(str(group[0])) for group in data.get("synonyms", []) if group),
                   domain_words=tuple(normalize_text(str(w)) for key in ("domain", "anchors")
                                      for w in intents_data.get(key) or ()))

    def program_names(self, program: str) -> set[str]:
        spec = self.programs.get(program)
        return spec["names"] if spec else set()

    @property
    def all_program_words(self) -> set[str]:
        out: set[str] = set()
        for spec in self.programs.values():
            out |= set(spec["words"]) | spec["names"]
        return out

    def synonyms_of(self, term: str) -> set[str]:
        """Read-only: the shared set of ``term``'s synonyms."""
        return self._synonyms.get(term, _NO_SYNONYMS)


_NO_SYNONYMS: frozenset[str] = frozenset()


class Analyzer:
    """Normalises and tokenises text the same way for entries and queries."""

    def __init__(self, vocabulary: Vocabulary, domain_dict: Path = DOMAIN_DICT):
        self.vocab = vocabulary
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        self._gw_cache: dict[str, float] = {}
        self._words_cache: dict[str, list[str]] = {}
        self._own_words: set[str] = set()  # added from the knowledge base's data (see COMPOSITE_MAX_FREQ)
        if domain_dict.exists():
            for line in domain_dict.read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if parts:
                    freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
                    self._add_word(normalize_text(parts[0]), freq)
        for group in vocabulary.synonym_groups:
            for term in sorted(group):  # set order depends on the hash seed: keep jieba reproducible
                if len(term) >= 2:
                    # owners' words (簽完, 裝好) are kept whole but weigh as everyday phrases
                    self._add_word(term, None, own=False)
        # programme and track names must stay whole (共融, 普及, a類 ...)
        for spec in vocabulary.programs.values():
            for term in (*spec["words"], *spec["names"]):
                if len(term) >= 2 and not term[:1].isdigit():
                    self._add_word(term, 50)
        for term in vocabulary.facets:
            if len(term) >= 2 and not term[:1].isdigit():
                self._add_word(term, 50)

    def _add_word(self, word: str, freq: int | None, *, own: bool = True) -> None:
        # Segmentation runs on the Simplified form (see words()), so the
        # Simplified spelling is the one that matters; add both to be safe.
        self._jieba.add_word(word, freq=freq)
        simplified = to_simplified(word)
        if own:
            self._own_words.update((word, simplified))
        if simplified != word:
            self._jieba.add_word(simplified, freq=freq)

    def word_freq(self, word: str) -> int:
        """``word``'s count in jieba's dictionary (with the knowledge base's words); 0 if unlisted."""
        freqs = self._jieba.FREQ
        return max(freqs.get(to_simplified(word), 0), freqs.get(word, 0))

    @property
    def dictionary_total(self) -> float:
        """The sum of jieba's dictionary counts (a word's probability is its count over this)."""
        return self._jieba.total

    def log_prob(self, text: str) -> float:
        """Log probability of jieba's best segmentation of ``text`` (its unigram model)."""
        simplified = to_simplified(text)
        route: dict[int, tuple[float, int]] = {}
        self._jieba.calc(simplified, self._jieba.get_DAG(simplified), route)
        return route[0][0]

    def terms(self) -> set[str]:
        """The knowledge base's own words: the domain dictionary, programme names, facets,
        synonyms and the programme's words of intents.yaml (homophone slips are read as these)."""
        out = {w for w in self._own_words if normalize_text(w) == w}
        out.update(self.vocab.class_words)
        out.update(self.vocab.domain_words)
        return out

    def words(self, norm: str) -> list[str]:
        """jieba segmentation of normalised text, stopwords removed."""
        cached = self._words_cache.get(norm)
        if cached is None:
            stop = self.vocab.stopwords
            cached = [w for w in _merge_counts(self.segment(norm)) if w.strip() and w not in stop]
            if len(self._words_cache) > 20000:
                self._words_cache.clear()
            self._words_cache[norm] = cached
        return list(cached)

    def cut_with_hmm(self, text: str) -> list[str]:
        """jieba's cut with its HMM, which glues characters its dictionary lacks as a word into one
        (資工): the homophone reader's check that a short window is not half of such a word."""
        return self._jieba.lcut(text, HMM=True)

    def segment(self, norm: str) -> list[str]:
        """jieba's dictionary is mostly Simplified and it splits Traditional
        words such as 颱風/註冊 into characters.  Segment the Simplified form
        and cut the Traditional text at the same offsets (t2s keeps the length
        for ordinary text; if it does not, segment the original)."""
        simplified = to_simplified(norm)
        if len(simplified) != len(norm):
            return self._jieba.lcut(norm, HMM=False)
        out, pos = [], 0
        # HMM off: the HMM glues unknown neighbours into pseudo-words (各寫,
        # 完要) that look rare and distort coverage; dictionary words and
        # ASCII runs are what we want, bigrams cover the rest.
        for piece in self._jieba.lcut(simplified, HMM=False):
            piece = norm[pos: pos + len(piece)]
            pos += len(piece)
            if len(piece) == 1 and piece.isascii() and piece.isalpha() and out and out[-1].isascii() \
                    and out[-1].isalnum():
                # 「logo」 cut after the dictionary's 「log」: a lone letter belongs to its word
                out[-1] += piece
                continue
            out.append(piece)
        return out

    def general_weight(self, word: str) -> float:
        """How specific a word is in everyday Chinese: log inverse frequency in
        jieba's general dictionary, minus the level of ordinary words.  Filler
        such as 辦法/晚上/找到 weighs ~1, topical words such as 續約/會費/蝦皮
        weigh 5+.  A question's topic lives in its specific words, so coverage of
        those decides whether an entry really answers it."""
        cached = self._gw_cache.get(word)
        if cached is None and word[:1].isdigit():
            # "12個", "100家": the user's own figures, rarely in the KB text
            cached = self._gw_cache[word] = 1.0
        if cached is None and word in self.vocab.generic:
            cached = self._gw_cache[word] = GENERIC_WEIGHT
        if cached is None and is_interrogative(word):
            # 幾份 / 哪幾家 / 多少錢 ask *for* something; a fixed moderate
            # weight, however rare the compound is in the dictionary (coverage
            # counts them as covered when the entry answers that kind of ask).
            cached = self._gw_cache[word] = INTERROGATIVE_WEIGHT
        if cached is None:
            freq = self._jieba.FREQ.get(to_simplified(word), 0) or self._jieba.FREQ.get(word, 0)
            gidf = math.log(self._jieba.total / (freq + 1))
            if freq == 0:
                gidf = min(gidf, GENERAL_UNSEEN_IDF)
            cached = self._idf_weight(gidf)
            if len(word) == 1:
                cached *= 0.5
            if word.isascii() and cached > 1.0:
                # An English word jieba's dictionary barely knows (check, apply, after) is as
                # specific as the Chinese words it stands for, not as a rare term: otherwise
                # an entry lacking it loses the question to one that happens to say 「check」.
                self._gw_cache[word] = cached  # a synonym group may contain the word again
                chinese = sorted(self.general_weight(s) for s in self.vocab.synonyms_of(word) if not s.isascii())
                if chinese:
                    cached = min(cached, chinese[len(chinese) // 2])
            self._gw_cache[word] = cached
        return cached

    def phrase_weight(self, word: str) -> float | None:
        """The weight of a rare dictionary phrase of 3+ characters read as its parts (see
        COMPOSITE_MAX_FREQ); None for any other word."""
        if len(word) < COMPOSITE_MIN_LEN or word in self._own_words or word[:1].isdigit() or is_interrogative(word):
            return None
        simplified = to_simplified(word)
        if simplified in self._own_words or not 0 < self._jieba.FREQ.get(simplified, 0) <= COMPOSITE_MAX_FREQ:
            return None
        return self._composite_weight(simplified) + COMPOSITE_BONUS

    @staticmethod
    def _idf_weight(gidf: float) -> float:
        return min(max(gidf - GENERAL_BASE_IDF, 0.5), 10.0)

    def _composite_weight(self, word: str) -> float:
        """The least summed weight of the dictionary words (or single characters) ``word`` splits
        into, the word itself excluded; a stopword part (嗎, 的) weighs nothing."""
        freqs, total, stop = self._jieba.FREQ, self._jieba.total, self.vocab.stopwords
        best = [0.0] + [math.inf] * len(word)
        for end in range(1, len(word) + 1):
            for start in range(end):
                part = word[start:end]
                freq = freqs.get(part, 0)
                if part == word or (len(part) > 1 and not freq):
                    continue
                gidf = min(math.log(total / (freq + 1)), GENERAL_UNSEEN_IDF)
                cost = 0.0 if normalize_text(part) in stop else self._idf_weight(gidf)
                best[end] = min(best[end], best[start] + cost)
        return best[-1]

    def tokens(self, norm: str) -> list[str]:
        """BM25 tokens: words of 3+ chars, ASCII runs, and bigrams over units."""
        stop = self.vocab.stopwords
        units = _UNIT.findall(norm)
        out: list[str] = []
        for word in self.words(norm):
            if len(word) >= 3 or _ASCII_RUN.fullmatch(word):
                out.append(word)
        for a, b in zip(units, units[1:]):
            pair = a + b
            if pair in stop or (a in stop and b in stop):
                continue
            out.append(pair)
        return out


@dataclass
class Analysis:
    norm: str
    words: list[str]
    tokens: list[str]
    expansion: list[str]
    fuzz_text: str
    # Words said only in self-description clauses (「我開雞排攤」, knowledge.query) and their
    # BM25 tokens: they describe the asker, not the question, so they weigh less (see
    # SearchIndex.query_weight) and score at CONTEXT_TOKEN_WEIGHT.
    context_words: frozenset[str] = frozenset()
    context_tokens: list[str] = field(default_factory=list)
    # Words of self-description clauses that state a fact the answer depends on (「請了十二個
    # 阿姨」): the KB's words among them count fully, the others (阿姨) not at all.
    fact_words: frozenset[str] = frozenset()
    # Specific quantities or conditions the question asks for (a pass mark, a percentage, a fine, a
    # date…: intents.yaml ``asked``), and the question's topic words an answer's statement of it
    # must sit next to (SearchIndex.states_asked).
    asked: tuple[tuple[str, "re.Pattern[str]"], ...] = ()
    topic_words: tuple[str, ...] = ()
    # The programme names of a question comparing programmes (SearchIndex._compared_names), worked
    # out once, by the first candidate's coverage, and kept for the others.
    compared_names: frozenset[str] | None = None


@dataclass
class Candidate:
    index: int
    bm25: float
    fuzzy: float
    rank_score: float
    coverage: tuple[float, float, float] | None = None  # SearchIndex.coverage
    features: dict[str, float] = field(default_factory=dict)  # the rerank's (SearchIndex.search)


@dataclass
class _Doc:
    entry: Entry
    q_norm: str              # question + alternatives + tags, normalised, joined
    all_norm: str            # q_norm + answer
    intents: frozenset[str] = frozenset()   # answer kinds its phrasings ask for
    phrasings: list[str] = field(default_factory=list)   # space-joined words per phrasing
    sentences: tuple[str, ...] = ()   # the answer's sentences, normalised (SearchIndex.states_asked)
    asked_kinds: frozenset[str] = frozenset()  # what its phrasings ask for (intents.yaml asked)


class SearchIndex:
    """Immutable index over a list of entries; build once, query many times."""

    def __init__(self, entries: Sequence[Entry], analyzer: Analyzer):
        self.analyzer = analyzer
        self.vocab = analyzer.vocab
        self.entries: list[Entry] = list(entries)
        self.by_id = {e.id: i for i, e in enumerate(self.entries)}
        self.programs = np.array([e.program for e in self.entries], dtype=str)  # per-query programme weights
        self.docs: list[_Doc] = []
        q_corpus: list[list[str]] = []
        a_corpus: list[list[str]] = []

        for entry in self.entries:
            phr_norms = [normalize_text(t) for t in (entry.question, *entry.alternatives)]
            tag_norms = [normalize_text(t) for t in entry.tags]
            ans_norm = normalize_text(entry.answer)
            q_tokens: list[str] = []
            q_tokens += analyzer.tokens(phr_norms[0])  # canonical question counts twice
            for norm in phr_norms:
                q_tokens += analyzer.tokens(norm)
            for norm in tag_norms:
                q_tokens += analyzer.tokens(norm) or [norm]
            q_corpus.append(q_tokens or ["<empty>"])
            a_corpus.append(analyzer.tokens(ans_norm) or ["<empty>"])
            q_norm = "|".join(phr_norms + tag_norms)
            self.docs.append(_Doc(
                entry=entry,
                q_norm=q_norm,
                all_norm=q_norm + "|" + ans_norm,
                phrasings=[" ".join(analyzer.words(n)) for n in phr_norms],
                sentences=tuple(n for n in (normalize_text(x) for x in _SENTENCE.split(entry.answer)) if n),
                asked_kinds=frozenset(kind for n in phr_norms for kind, _ in self.vocab.asked_in(n)
                                      if kind not in self.vocab.broad_kinds),
                intents=frozenset().union(*(self.vocab.intents_of(n) for n in phr_norms))
                | _answer_intents(ans_norm),
            ))
        self._n = max(len(self.entries), 1)
        self._kb_text = "\n".join(d.all_norm for d in self.docs)
        self._answer_text = "\n".join(normalize_text(e.answer) for e in self.entries)
        self._bm25_q = self._bm25(q_corpus)
        self._bm25_a = self._bm25(a_corpus)
        self._idf_cache: dict[str, float] = {}
        self._known_cache: dict[str, bool] = {}
        self._unit_cache: dict[str, bool] = {}
        # Per side (knowledge.loader.AUDIENCES): which entries are written for it.
        self.for_side = {side: np.array([e.for_side(side) for e in self.entries], dtype=bool)
                         for side in AUDIENCES}
        # Homophone slips of the knowledge base's own words are read as them (knowledge.sounds); the
        # entries' tags are not among them: many are everyday words (要錢, 假的, 後悔).
        self.sounds = SoundCorrector(analyzer.terms(), analyzer, keep=frozenset(w for w in self.vocab.domain_words if len(w) == 1))

    @staticmethod
    def _bm25(corpus: list[list[str]]) -> bm25s.BM25 | None:
        if not corpus:
            return None
        model = bm25s.BM25()
        model.index(corpus, show_progress=False)
        return model

    # ---- query side -------------------------------------------------------
    def analyze(self, text: str, *, extra: str = "", core: str | None = None, context: str = "",
                facts: str = "") -> Analysis:
        """``core``/``context``: the normalised question and self-description clauses of
        ``text`` (knowledge.query); without them the whole text is the question."""
        norm = normalize_text(text) if core is None else core
        words = self.analyzer.words(norm)
        tokens = self.analyzer.tokens(norm)
        context_words: frozenset[str] = frozenset()
        context_tokens: list[str] = []
        fact_words: frozenset[str] = frozenset()
        if facts:
            own = set(words)
            fact_words = frozenset(w for w in self.analyzer.words(facts) if w not in own)
            words = words + [w for w in self.analyzer.words(facts) if w in fact_words]
            tokens = tokens + self.analyzer.tokens(facts)
            norm = norm + facts
        if context:
            own = set(words)
            context_words = frozenset(w for w in self.analyzer.words(context) if w not in own)
            fact_words = fact_words - context_words
            words = words + [w for w in self.analyzer.words(context) if w in context_words]
            context_tokens = self.analyzer.tokens(context)
            norm = norm + context
        if extra:
            extra_norm = normalize_text(extra)
            words = words + self.analyzer.words(extra_norm)
            tokens = tokens + self.analyzer.tokens(extra_norm)
            norm = norm + extra_norm
        expansion: list[str] = []
        seen = set(tokens)
        context_expansion: list[str] = []
        for term in sorted(set(words) | set(tokens)):
            # A synonym of a word said only in the self-description (「我開美甲店」 -> 美容美髮)
            # describes the asker too: it scores with the self-description's weight.
            into = context_expansion if term in context_words else expansion
            for syn in self.vocab.synonyms_of(term):
                for tok in self.analyzer.tokens(syn) or ([syn] if len(syn) > 1 else []):
                    if tok not in seen:
                        seen.add(tok)
                        into.append(tok)
        context_tokens = context_tokens + context_expansion
        fuzz_words = [w for w in words if w not in context_words and w not in fact_words]
        question_norm = normalize_text(text) if core is None else core
        asked = self.vocab.asked_in(question_norm)
        topic_words: tuple[str, ...] = ()
        if asked:
            own = [w for w in self.analyzer.words(question_norm) if not is_interrogative(w)
                   and not any(question.search(w) for _, question, _ in self.vocab.asked)]
            topic_words = tuple(w for w in dict.fromkeys(own) if len(w) >= 2 and self.analyzer.general_weight(w) >= 1.0)
        return Analysis(norm=norm, words=words, tokens=tokens, expansion=expansion,
                        fuzz_text=" ".join(fuzz_words), context_words=context_words,
                        context_tokens=context_tokens, fact_words=fact_words, asked=asked, topic_words=topic_words)

    def _field_scores(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 of the question fields and of the answer, per entry."""
        if not tokens:
            # Only stopwords (「謝謝」「好的」): bm25s cannot score an empty query.
            zeros = np.zeros(len(self.entries), dtype=np.float64)
            return zeros, zeros
        questions = np.asarray(self._bm25_q.get_scores(tokens), dtype=np.float64)
        answer = np.asarray(self._bm25_a.get_scores(tokens), dtype=np.float64)
        return questions, answer

    def field_scores(self, analysis: Analysis) -> tuple[np.ndarray, np.ndarray]:
        """(question-field BM25, answer-field BM25) of the whole query: its own tokens, the
        self-description's at CONTEXT_TOKEN_WEIGHT and the synonyms' at SYNONYM_WEIGHT."""
        q, a = self._field_scores(analysis.tokens)
        for tokens, weight in ((analysis.context_tokens, CONTEXT_TOKEN_WEIGHT), (analysis.expansion, SYNONYM_WEIGHT)):
            if tokens:
                q2, a2 = self._field_scores(tokens)
                q, a = q + weight * q2, a + weight * a2
        return q, a

    def bm25_scores(self, analysis: Analysis) -> np.ndarray:
        if not self.entries:
            return np.zeros(0, dtype=np.float32)
        q, a = self.field_scores(analysis)
        return q + ANSWER_WEIGHT * a

    def fuzzy(self, analysis: Analysis, index: int) -> float:
        """Best similarity (0..1) between the query and a phrasing of the entry."""
        query = analysis.fuzz_text
        if not query:
            return 0.0
        best = 0.0
        for phr in self.docs[index].phrasings:
            if not phr:
                continue
            score = 0.5 * fuzz.token_set_ratio(query, phr) + 0.5 * fuzz.token_sort_ratio(query, phr)
            if score > best:
                best = score
        return best / 100.0

    def search(self, analysis: Analysis, *, weights: np.ndarray | None = None, k: int = RERANK_K) -> list[Candidate]:
        """Top candidates, best first: the BM25 top ``k`` (``weights`` multiplies BM25 per entry:
        programme and side), reranked by a linear score over each candidate's features
        (RANK_WEIGHTS, fitted by knowledge.fit_calibration on the tuning sets)."""
        if not self.entries:
            return []
        q_scores, a_scores = self.field_scores(analysis)
        scores = q_scores + ANSWER_WEIGHT * a_scores
        if weights is not None:
            scores = scores * weights
        top = np.argsort(-scores)[: min(k, len(scores))]
        best = float(scores[top[0]]) if len(top) else 0.0
        best_q = float(q_scores.max()) or 1.0
        best_a = float(a_scores.max()) or 1.0
        cands: list[Candidate] = []
        for i in top:
            i = int(i)
            s = float(scores[i])
            if s <= 0:
                continue
            w = float(weights[i]) if weights is not None else 1.0
            coverage = self.coverage(analysis, i)
            rel = s / best
            fz = self.fuzzy(analysis, i)
            feats = {"rel": rel, "fuzzy": fz, "cov_q": coverage[0], "cov_all": coverage[1],
                     "worst_miss": coverage[2], "intent_mismatch": self.intent_mismatch(analysis, i),
                     "weight": w, "rel_q": float(q_scores[i]) / best_q, "rel_a": float(a_scores[i]) / best_a,
                     # the programme/side multiplier scales the fuzzy similarity too; the coverage bonus
                     # counts only within half of the best BM25 (a far candidate covering a common word
                     # must not jump ahead) and never above the multiplier
                     "fuzzy_w": fz * w, "cov_near": coverage[1] * min(w, 1.0) if rel >= COVERAGE_RERANK_MIN else 0.0}
            rank = sum(RANK_WEIGHTS[name] * feats[name] for name in RANK_WEIGHTS)
            cands.append(Candidate(index=i, bm25=s, fuzzy=feats["fuzzy"], rank_score=rank, coverage=coverage,
                                   features=feats))
        cands.sort(key=lambda c: c.rank_score, reverse=True)
        return cands

    # ---- calibration features ------------------------------------------------
    def idf(self, word: str) -> float:
        cached = self._idf_cache.get(word)
        if cached is None:
            df = sum(1 for d in self.docs if word in d.all_norm)
            cached = math.log(1 + (self._n - df + 0.5) / (df + 0.5))
            self._idf_cache[word] = cached
        return cached

    def content_words(self, analysis: Analysis) -> list[str]:
        seen, out = set(), []
        for w in analysis.words:
            # A lone Latin letter ("a", "x") is a substring of half the KB (aws, a級):
            # as evidence it would make any entry look covered.
            if len(w) == 1 and w.isascii():
                continue
            if w not in seen and not w.isdigit():
                seen.add(w)
                out.append(w)
        return out

    def counts_in(self, unit: str) -> bool:
        """The knowledge base states some number in ``unit`` (「3場」 for 場); cached like known(): the
        same few units (家, 場, 月) come back in question after question, and the text is long."""
        cached = self._unit_cache.get(unit)
        if cached is None:
            cached = self._unit_cache[unit] = re.search(r"\d" + re.escape(unit), self._kb_text) is not None
        return cached

    def known(self, word: str) -> bool:
        """Whether the KB says the word (or a synonym of it) anywhere."""
        cached = self._known_cache.get(word)
        if cached is None:
            cached = self._known_cache[word] = any(f in self._kb_text for f in (word, *self.vocab.synonyms_of(word)))
        return cached

    def query_weight(self, analysis: Analysis, word: str) -> float:
        """How much a query word counts: fully, or less when only the asker's self-description
        said it (CONTEXT_KNOWN_WEIGHT; nothing when the KB does not know it)."""
        if word in analysis.fact_words:
            return 1.0 if self.known(word) else 0.0
        frame = self.vocab.frame
        if frame is not None and frame.fullmatch(word):
            # 「簽完後」「入選以後」 say when, not what: the owner's whole year is after signing, and
            # an entry about the visits need not repeat it.
            return FRAME_WEIGHT
        if word not in analysis.context_words:
            return 1.0
        return CONTEXT_KNOWN_WEIGHT if self.known(word) else 0.0

    def _word_weight(self, word: str) -> float:
        # Specific words (general-language rarity) carry the question's topic;
        # a word found in a large part of the KB (輔導, 企業) is domain-generic
        # and says little about which entry answers, so it is damped.
        kb_factor = 0.3 + 0.7 * min(1.0, self.idf(word) / KB_IDF_SPECIFIC)
        weight = self.analyzer.general_weight(word)
        if word not in self._answer_text:
            # An everyday phrase the documents never use (簽下去, 講清楚) is as specific as its parts;
            # one they use (成果展) is their term.
            phrase = self.analyzer.phrase_weight(word)
            if phrase is not None:
                weight = min(weight, phrase)
        return weight * kb_factor

    def _compared_names(self, words: list[str]) -> frozenset[str]:
        """The programme names of a question naming programmes of two families or more (「共好跟群聚的
        輔導是不是都到11月底」): an entry of either answers its part; the other's name is no miss (an
        entry that speaks of both, 「群聚跟共好是同一個單位在管的嗎」, still gains by it)."""
        programs, said = self.vocab.programs, set(words)
        named = [p for p in programs if self.vocab.program_names(p) & said]
        if len({programs[p].get("family", p) for p in named}) < 2:
            return frozenset()
        return frozenset().union(*(self.vocab.program_names(p) for p in named))

    def coverage(self, analysis: Analysis, index: int) -> tuple[float, float, float]:
        """idf-weighted share of the query's content words found in the entry's
        question fields and in the whole entry (synonyms count as found), and
        the idf (relative to the largest possible) of the most informative
        query word the entry lacks."""
        doc = self.docs[index]
        words = self.content_words(analysis)
        implied = self.vocab.program_names(doc.entry.program)
        if all(w in implied for w in words):
            implied = set()  # "數位券是什麼": the name is the topic
        compared = frozenset()
        if implied:
            if analysis.compared_names is None:
                analysis.compared_names = self._compared_names(words)
            compared = analysis.compared_names
        total = cov_q = cov_all = 0.0
        worst_miss = 0.0
        for word in words:
            if word in implied:
                # "共好" is implied by every 數位共好 entry; programme fit is
                # handled by the programme weights and program_mismatch, so the
                # name neither helps nor hurts topic coverage.
                continue
            if word in compared and word not in doc.all_norm:
                continue  # the other programme of a comparison, which this entry does not speak of
            weight = self._word_weight(word) * self.query_weight(analysis, word)
            asks = is_interrogative(word)
            if not weight or (UNKNOWN_IN_COVERAGE < 1.0 and not asks and not self.known(word)):
                # A word the whole KB never says (「從來」「有空」「太貴」) is already counted once,
                # by unknown_share; counting it again as a miss of every entry punished
                # colloquial owners' questions three times over.
                weight *= UNKNOWN_IN_COVERAGE
                if not weight:
                    continue
            total += weight
            forms = (word, *self.vocab.synonyms_of(word))
            measure = _ASKED_UNIT.search(word) if asks else None
            if measure and not re.search(r"\d(?:\.\d+)?" + _UNIT_ALIKE.get(measure.group(1), measure.group(1)), doc.all_norm):
                # 「幾分鐘」「幾個小時」「幾分」 ask for a measure in that unit: an entry that never
                # states one does not answer it, however well it covers the topic.
                total += weight * (UNIT_ASK_WEIGHT - 1)
                worst_miss = max(worst_miss, UNIT_ASK_WEIGHT * weight / 10.0)
                continue
            figure = _FIGURE.fullmatch(word)
            if figure and not any(f in doc.all_norm for f in forms):
                # The asker's own figure (「35家」「2場」「8月」「正職4個」) is compared with the rule the
                # entry states in the same unit (「30家」「3場」「7月31日」): an entry stating one covers
                # it; the number itself is never in the documents.
                unit = re.escape(figure.group(1))
                if re.search(r"\d" + unit, doc.q_norm):
                    cov_q += weight
                    cov_all += weight
                    continue
                if re.search(r"\d" + unit, doc.all_norm):
                    cov_all += weight
                    continue
            if any(f in doc.q_norm for f in forms) or (
                    asks and self.vocab.intents_of(word) & doc.intents):
                cov_q += weight
                cov_all += weight
                continue
            if any(f in doc.all_norm for f in forms):
                cov_all += weight
                continue
            share = 0.0
            if len(word) >= 3:
                # long word partly present (e.g. a compound split differently)
                share = _bigram_share(word, doc.all_norm)
                if share >= 0.5:
                    cov_all += share * weight
                    if _bigram_share(word, doc.q_norm) >= 0.5:
                        cov_q += share * weight
                else:
                    share = 0.0
            worst_miss = max(worst_miss, (1 - share) * weight / 10.0)
        # An unstated entry is exempt: that the documents do not give it is what it states.
        for _kind, answer in () if self.entries[index].unstated else analysis.asked:
            if not self.states_asked(analysis, index, answer):
                # 「幾分才算過」「抽幾%」「罰多少」: the entry is about the topic but does not state
                # what is asked; it answers a neighbouring question.
                total += ASKED_MISS_WEIGHT
                worst_miss = max(worst_miss, ASKED_MISS_WEIGHT / 10.0)
        if total == 0:
            return 0.0, 0.0, 1.0
        return cov_q / total, cov_all / total, worst_miss

    def states_asked(self, analysis: Analysis, index: int, answer: "re.Pattern[str]") -> bool:
        """Whether the entry states what the question asks for (``answer`` of intents.yaml
        ``asked``) in a sentence about the question's topic (one of its specific words), so that
        the 35 % of a checkpoint does not answer 「抽查會抽幾%」."""
        doc = self.docs[index]
        # An English topic word counts in its synonyms' forms (「deadline」 is the answer's 截止);
        # Chinese ones do not (抽查's class holds 查核, whose checkpoint 35 % is not a sampling rate).
        topic = {f for w in analysis.topic_words
                 for f in ((w, *self.vocab.synonyms_of(w)) if w.isascii() else (w,))}
        return any(answer.search(sentence) and (not topic or any(w in sentence for w in topic))
                   for sentence in doc.sentences)

    def topic_mass(self, analysis: Analysis) -> float:
        """Weight of the words that carry a topic: not programme/track names,
        not interrogatives (幾號, 多少), not the user's own figures."""
        skip = self.vocab.all_program_words | set(self.vocab.facets)
        mass = 0.0
        for w in self.content_words(analysis):
            if w in skip:
                continue
            if w[:1].isdigit():
                # 「8家就可以組了嗎」: a count to confirm asks for the count, as 幾家 does
                if len(w) >= 2 and w[-1] in _TOPIC_COUNTERS and _CONFIRMING.search(analysis.norm):
                    mass += INTERROGATIVE_WEIGHT
                continue
            if is_interrogative(w):
                # 幾家 / 幾人 / 多少錢 ask for a count of something concrete: with a
                # programme name that is a real question (「群聚A類要幾家」); 幾號 / 幾點
                # alone (「今天幾號」) still are not.
                if len(w) >= 2 and (w[-1] in _TOPIC_COUNTERS or any(c in _TOPIC_COUNTERS for c in w[1:-1])):
                    # 「幾堂課」「幾種」: the counted thing, named or by its counter, is the topic.
                    mass += INTERROGATIVE_WEIGHT
                continue
            mass += self._word_weight(w) * self.query_weight(analysis, w)
        return mass

    def intent_mismatch(self, analysis: Analysis, index: int) -> float:
        """1.0 when the question asks for a kind of answer (when/how/how many
        ...) that none of the entry's phrasings asks for; 0.0 otherwise."""
        wanted = self.vocab.intents_of(analysis.norm)
        if not wanted:
            return 0.0
        return 0.0 if wanted & self.docs[index].intents else 1.0

    def unknown_share(self, analysis: Analysis) -> float:
        """idf-weighted share of the query's content words that occur nowhere
        in the knowledge base (neither as themselves nor as a synonym)."""
        total = unknown = 0.0
        program_words = self.vocab.all_program_words
        for word in self.content_words(analysis):
            if word in program_words or word in analysis.context_words or word in analysis.fact_words:
                continue  # self-description is not evidence of an off-topic question
            figure = _FIGURE.fullmatch(word)
            if figure and self.counts_in(figure.group(1)):
                continue  # the asker's own figure (「35家」) in a unit the documents count in
            weight = self._word_weight(word)
            total += weight
            forms = (word, *self.vocab.synonyms_of(word))
            if not any(f in self._kb_text for f in forms):
                if len(word) >= 3 and _bigram_share(word, self._kb_text) >= 0.5:
                    unknown += (1 - _bigram_share(word, self._kb_text)) * weight
                else:
                    unknown += weight
        return unknown / total if total else 1.0


_SENTENCE = re.compile(r"[。；;！!？?\n]+")
_ANSWER_QTY = re.compile(r"\d+(?:\.\d+)?(?:家|人|名|萬|元|%|次|項|份|式|個|小時|天|級|成|分|類|年內|週)")
_ANSWER_WHEN = re.compile(r"\d+月\d+日|\d+年\d+月|\d+點|[上中下]旬|月底|月初")


def _answer_intents(answer_norm: str) -> frozenset[str]:
    """Kinds of question an answer can serve by its content: one that states
    amounts answers 'how many', one that states dates answers 'when'."""
    out = set()
    if _ANSWER_QTY.search(answer_norm):
        out.add("qty")
    if _ANSWER_WHEN.search(answer_norm):
        out.add("when")
    return frozenset(out)


# An asker's own figure and its unit (「4場」「35家」, SearchIndex coverage): a bare 1 is left out,
# since 「每一家」 normalises to 「每1家」 and is no figure of the shop's.
_FIGURE = re.compile(r"(?!1(?!\d))\d+(?:\.\d+)?([^\d.]+)")
# Units a 「幾…」 question may ask for that the documents state with a number (10分鐘, 2小時);
# not 幾分: 「佔幾分」 asks for a weight the documents give in %.
_ASKED_UNIT = re.compile(r"^(?:幾|多少)(?:個)?(分鐘|小時|公里|坪|歲|秒|題|頁|份|次)$")
# A count asked in one counter may be stated in another (「幾份」: 1式).
_UNIT_ALIKE = {"份": "(?:份|式|本)", "小時": "(?:小時|鐘頭)", "次": "(?:次|場|堂)"}


def is_interrogative(word: str) -> bool:
    if word[:1] in "幾哪" or word.startswith("多少") or word in ("怎麼辦", "怎麼做"):
        return True
    # A-not-A yes/no questions (算不算, 要不要, 可不可以, 有沒有): they ask, they
    # carry no topic; without this, a rare compound such as 算不算 outweighs the topic.
    cut = word.find("不") if "不" in word else word.find("沒")
    return 1 <= cut < len(word) - 1 and len(word) <= 5 and word[cut + 1] == word[0]


# a yes/no question confirming something (「是不是8家」「8家就可以了嗎」), not a bare fact (「五個人」)
_CONFIRMING = re.compile(r"嗎|吧|是不是|還是|對不對|沒錯")
_TOPIC_COUNTERS = set("家人名次場份項個件張元錢萬堂種型類套位趟")
_COUNTERS = set("家人名個次項年月日天份式類級成萬元週周號條點場間%")


def _merge_counts(words: list[str]) -> list[str]:
    """Keep a number with its counter: jieba cuts 100家店 into 100 / 家店,
    but the documents' facts are "100家", "9人", "3月"."""
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w.isdigit() and nxt and nxt[0] in _COUNTERS:
            out.append(w + nxt[0])
            if len(nxt) > 1:
                out.append(nxt[1:])
            i += 2
            continue
        out.append(w)
        i += 1
    return out


def _bigram_share(word: str, text: str) -> float:
    grams = [word[i:i + 2] for i in range(len(word) - 1)]
    if not grams:
        return 0.0
    return sum(1 for g in grams if g in text) / len(grams)


_ANALYZER_LOCK = threading.Lock()
_ANALYZER: Analyzer | None = None


def default_analyzer() -> Analyzer:
    """The analyzer is costly (jieba's dictionary, ~1 s); one per process,
    shared by every index and reload."""
    global _ANALYZER
    with _ANALYZER_LOCK:
        if _ANALYZER is None:
            _ANALYZER = Analyzer(Vocabulary.load())
        return _ANALYZER


def warm_up() -> threading.Thread:
    """Load jieba's dictionary in the background (call early at start-up so
    that it overlaps with the rest of the app's initialisation)."""
    thread = threading.Thread(target=default_analyzer, name="faq-analyzer-warm-up", daemon=True)
    thread.start()
    return thread


def build_index(entries: Iterable[Entry], analyzer: Analyzer | None = None) -> SearchIndex:
    return SearchIndex(list(entries), analyzer or default_analyzer())
