"""Homophone typos of the programme's own words, read as the words (issue 17).

Owners type on Zhuyin or pinyin keyboards, and most of their typos are the homophone the keyboard
offered first: 意相書 for 意向書, 輔道 for 輔導, 報明 for 報名, 統邊 for 統編. A hand-written list of
the slips someone once saw never covers the next owner's, so the question is corrected by sound:
a window of the text is read as a term of the knowledge base's vocabulary when

* it sounds the same (toneless pinyin, every reading of a polyphonic character accepted),
* it differs from the term in exactly one character (a keyboard's wrong pick is one character;
  two changed characters are a different phrase: 是想 is not 事項),
* the window is not a real word (jieba's dictionary or the vocabulary: 公式 is never 公司, 實踐
  never 時間, 報名 never anything else), no real word reaches into it from outside (「報明年」
  keeps its 明年), a two-character window is not half of a word jieba's HMM reads (資工 in 「資工好」
  is no 共好), and it does not cut through a term spelled right (「這是數位」: 是數 is not 時數),
* the changed character is not a function word (是, 不, 的) or a one-character word of the
  programme (簽), and the term read as one word is likelier than the typed characters.

Longer terms win over shorter ones. Only the question is corrected; the knowledge base's text is
written right. Built once per index from its vocabulary (``SoundCorrector.build``).
"""
from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Iterable

from pypinyin import Style, lazy_pinyin, pinyin

from .normalize import canonical_char, to_simplified, to_traditional

if TYPE_CHECKING:
    from .index import Analyzer

TERM_MIN, TERM_MAX = 2, 6
# A term this long is a strong reading: two misheard characters (茶盒點) are still the term, and a word
# touching only its edge (書上 in 「意象書上面」) does not keep the typed characters.
LONG_TERM = 3
# A window (or a word crossing its edge) listed this often in jieba's dictionary is a real word
# the owner meant (公式 1158, 明年 944). Its long tail of rare entries (察核 3, 相書 8) is not.
WORD_MIN_FREQ = 10
# A character this frequent alone in jieba's dictionary (了 884k, 是 797k, 在 728k, 不 360k, 的 319k,
# 也 308k) is a function word typed on purpose: 「大家是用同一個」 is not 使用, 「不簽」 not 補簽.
FUNCTION_CHAR_FREQ = 300_000
# A term jieba's dictionary lacks (稅籍) weighs as a rare word (the domain dictionary's count).
TERM_FLOOR_FREQ = 50
# How much likelier (natural log) the corrected run must read than the typed one.
LIKELIER_MARGIN = 0.0
_CJK = re.compile(r"[\u4e00-\u9fff]+")
_CJK_TERM = re.compile(rf"[\u4e00-\u9fff]{{{TERM_MIN},{TERM_MAX}}}")
_MASK = "\0"


@lru_cache(maxsize=8192)
def sound(text: str) -> str:
    """Toneless pinyin: how a word sounds, which is what a Zhuyin keyboard's wrong pick keeps."""
    return " ".join(lazy_pinyin(text))


@lru_cache(maxsize=8192)
def readings(char: str) -> frozenset[str]:
    """The toneless readings of one character a keyboard offers it for."""
    return frozenset(pinyin(char, style=Style.NORMAL)[0])


class SoundCorrector:
    """Corrects homophone slips of known terms in a question (see the module docstring)."""

    def __init__(self, terms: Iterable[str], analyzer: "Analyzer", *, keep: frozenset[str] = frozenset()):
        terms = {t for t in terms if _CJK_TERM.fullmatch(t)}
        # One spelling per term: the Traditional one (the vocabulary lists some Simplified ones too).
        simplified = {t: to_simplified(t) for t in terms}
        self._by_simplified = {s: t for t, s in sorted(simplified.items(), key=lambda ts: ts[0] != ts[1])}
        self.terms = frozenset(terms)
        # jieba's dictionary (with the knowledge base's words): word counts and its unigram model
        self._word_freq = analyzer.word_freq
        self._log_prob = analyzer.log_prob
        self._log_total = math.log(analyzer.dictionary_total)
        self._cut = analyzer.cut_with_hmm
        # One-character words of the programme (簽, 錢): typed, they are meant (「要簽什麼」 is not 要錢).
        self._keep = keep
        # term with one character masked -> [(term, the masked character's reading)]
        self._masked: dict[str, list[tuple[str, str]]] = {}
        # a term of LONG_TERM characters or more by how it sounds (toneless pinyin, one per character)
        self._by_sound: dict[tuple[str, ...], list[str]] = {}
        for term in sorted(set(self._by_simplified.values())):
            sounds = lazy_pinyin(term)
            if len(sounds) != len(term):
                continue
            for k, sound in enumerate(sounds):
                self._masked.setdefault(term[:k] + _MASK + term[k + 1:], []).append((term, sound))
            if len(term) >= LONG_TERM:
                self._by_sound.setdefault(tuple(sounds), []).append(term)

    def correct(self, text: str) -> str:
        """``text`` with homophone slips of known terms replaced by the terms (Simplified text
        comes back in Traditional characters, as normalize_text would read it anyway)."""
        if not text or not self._masked:
            return text
        text = to_traditional(text)
        out = list(text)
        changed = False
        for run in _CJK.finditer(text):
            for pos, term in self._corrections(run.group()):
                out[run.start() + pos: run.start() + pos + len(term)] = term
                changed = True
        return "".join(out) if changed else text

    def _corrections(self, run: str) -> list[tuple[int, str]]:
        """(start, term) of each window of ``run`` to read as a term."""
        if len(run) < TERM_MIN:
            return []
        canon = "".join(canonical_char(c) for c in run)
        n = len(canon)
        # Spans of terms the text spelled right: a correction may not cut through one.
        right = [(i, i + size) for size in range(TERM_MIN, TERM_MAX + 1) for i in range(n - size + 1)
                 if canon[i:i + size] in self.terms]
        found: list[tuple[int, int, str]] = []  # (-length, start, term)
        heard = [sound(c) for c in canon]  # one reading per character, for the two-slip lookup
        cuts: frozenset[int] | None = None  # where jieba's HMM cuts the run, once a short window needs it
        for size in range(min(TERM_MAX, n), TERM_MIN - 1, -1):
            for start in range(n - size + 1):
                end = start + size
                window = canon[start:end]
                if window in self.terms or any(s < start < e < end or start < s < end < e for s, e in right):
                    continue
                same = self._by_simplified.get(to_simplified(window))
                if same is not None:
                    # 係統/蔘加: the Traditional misspelling of a term, the same word in Simplified.
                    found.append((-size, start, same))
                    continue
                if self._is_word(window):
                    continue
                for k in range(size):
                    hits = self._masked.get(window[:k] + _MASK + window[k + 1:])
                    if not hits or window[k] in self._keep or self._word_freq(window[k]) >= FUNCTION_CHAR_FREQ:
                        continue
                    fits = {term for term, sound in hits if sound in readings(window[k])}
                    if len(fits) != 1 or self._crosses_word(canon, start, end):
                        continue
                    if size < LONG_TERM:
                        cuts = self._hmm_cuts(canon) if cuts is None else cuts
                        if start not in cuts or end not in cuts:
                            continue  # half of a word the HMM reads (資工 in 「資工好」)
                    term = fits.pop()
                    if self._likelier(window, term):
                        found.append((-size, start, term))
                if size >= LONG_TERM:
                    found.extend((-size, start, term) for term in self._two_slips(canon, window, start, end,
                                                                                 tuple(heard[start:end])))
        taken: list[tuple[int, int]] = []
        out: list[tuple[int, str]] = []
        for neg_size, start, term in sorted(found):
            end = start - neg_size
            if any(s < end and start < e for s, e in taken):
                continue  # a longer (or earlier) correction already covers these characters
            taken.append((start, end))
            out.append((start, term))
        return out

    def _two_slips(self, canon: str, window: str, start: int, end: int, heard: tuple[str, ...]) -> set[str]:
        """A long term with two characters misheard (voice input writes 查核點 as 茶盒點): it sounds the
        same character for character, exactly two differ, neither is a function word, and the term is
        the only one that fits."""
        fits = set()
        for term in self._by_sound.get(heard, ()):
            changed = [i for i, (a, b) in enumerate(zip(window, term)) if a != b]
            if len(changed) == 2 and not any(window[i] in self._keep or self._word_freq(window[i]) >= FUNCTION_CHAR_FREQ
                                              for i in changed):
                fits.add(term)
        if len(fits) != 1 or self._crosses_word(canon, start, end) or not self._likelier(window, next(iter(fits))):
            return set()
        return fits

    def _likelier(self, window: str, term: str) -> bool:
        """Whether ``term`` read as one word is likelier than the typed window in jieba's unigram
        model (a term the dictionary lacks counts as a rare word): 「輔道」 is 輔導, but a slip
        that spells an everyday phrase is kept."""
        as_term = math.log(max(self._word_freq(term), TERM_FLOOR_FREQ)) - self._log_total
        return as_term > self._log_prob(window) + LIKELIER_MARGIN

    def _is_word(self, piece: str) -> bool:
        return piece in self.terms or self._word_freq(piece) >= WORD_MIN_FREQ

    def _hmm_cuts(self, canon: str) -> frozenset[int]:
        """The offsets where jieba's HMM cuts the run: a short window must start and end on them, not
        be half of a word it reads (「資工好」 is 資工, a school subject its dictionary lacks, and 好;
        not 資 and a misspelt 共好). Every offset when the Simplified form is of another length."""
        simplified = to_simplified(canon)
        if len(simplified) != len(canon):
            return frozenset(range(len(canon) + 1))
        cuts, pos = {0}, 0
        for piece in self._cut(simplified):
            pos += len(piece)
            cuts.add(pos)
        return frozenset(cuts)

    def _crosses_word(self, canon: str, start: int, end: int) -> bool:
        """Whether a real word of the text reaches into the window [start, end) from outside
        (「報明年」: 明 is 明年's; 「7月底前完成」: 完 is 完成's, so 前完 is not 簽完)."""
        n = len(canon)
        # A long term is a strong reading: a word reaching only one character into its edge (「意象書上面」:
        # 書上) does not keep it; one reaching further in (or into a short window at all) does.
        reach = 1 if end - start >= LONG_TERM else 0
        for size in range(TERM_MIN, TERM_MAX + 1):
            for first in range(max(0, start - size + 1), min(end, n - size + 1)):
                last = first + size
                if ((first < start and start + reach < last) or (first < end - reach and end < last)) \
                        and self._is_word(canon[first:last]):
                    return True
        return False
