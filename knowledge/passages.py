"""The programme documents themselves as a second tier of answers.

The knowledge base (entries) answers first.  When no entry answers confidently, the passage of
the documents (programs/documents/NNN_*.txt) that covers the question may: the bot then quotes
the sentences that match (「計畫文件是這樣寫的：…」, a few hundred characters at most) with the
document and section named in words.

The documents are extracted PDFs and converted pages: lines are cut at a fixed width, spaces are
scattered through Chinese text, tables are flattened (cells one per line, tab- or pipe-separated,
or in <p> tags), page numbers and form templates sit in the middle.  :func:`read_units` cleans
that into numbered items (壹、/一、/(一)/1./(1) ...) under their headings; long items are cut into
windows of whole sentences.  Each passage is indexed with the same analyzer as the entries, by
reusing :class:`knowledge.index.SearchIndex` over pseudo-entries (the passage text is the
"question" field; the section headings are tags), so coverage, unknown share and the rest are
computed exactly as for entries; only the acceptance (knowledge.calibration PASSAGE_*) differs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .index import Analysis, Analyzer, SearchIndex
from .loader import Entry
from .normalize import normalize_text

MAX_PASSAGE_CHARS = 220     # a window of whole sentences; longer items are cut
MIN_PASSAGE_CHARS = 12      # shorter items are headings or table debris
EXCERPT_CHARS = 250         # what the owner reads on a phone
SEARCH_K = 8                # passages reranked per question

_TAG = re.compile(r"<[^>]{1,200}>")
_CJK = r"\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef"
_SPACE_IN_CJK = re.compile(rf"(?<=[{_CJK}])[ \t\u3000]+|[ \t\u3000]+(?=[{_CJK}])")
_PAGE_NUMBER = re.compile(r"^\s*(?:-?\s*\d{1,3}\s*-?|第\s*\d+\s*頁.*)\s*$")
_TOC_LINE = re.compile(r"\t\d{1,3}\s*$|…{2,}\s*\d+\s*$|\.{4,}\s*\d+\s*$")
# Item markers, outermost first: 壹、 / 一、 / (一) / 1. / (1).  A line starting with one starts
# a new item; the level tells which headings stay above it.
_MARKERS = (
    (0, re.compile(r"^(?:第[一二三四五六七八九十]部分[：:、]?|附件[一二三四五六七八九十]+[、：:]?|[壹貳參叁肆伍陸柒捌玖拾]+、)")),
    (1, re.compile(r"^[一二三四五六七八九十]+、")),
    (2, re.compile(r"^[(（][一二三四五六七八九十]+[)）]")),
    (3, re.compile(r"^\d{1,2}[.、．](?!\d)")),
    (4, re.compile(r"^[(（]\d{1,2}[)）]")),
)
_LOOSE_ITEM = re.compile(r"^(?:[⚫●•▪■◆※]|備註|註\s*\d*[:：]|-\s)")
_SENTENCE = re.compile(r"(?<=[。；！？!?])|(?<=;)\s*")
_HEADING_MAX = 30
_BARE_HEADING_MAX = 24
HEADING_LEVELS = 2      # 壹、/一、/(一) titles name the items below them; deeper numbers are list items


@dataclass(frozen=True)
class Passage:
    id: str            # doc-002-0123
    doc: str           # "002"
    program: str
    headings: tuple[str, ...]   # the section path, outermost first (cleaned)
    text: str          # cleaned, readable


def clean_line(line: str) -> str:
    line = _TAG.sub(" ", line).replace("&nbsp;", " ").replace("**", "")
    line = re.sub(r"file://\S*", "", line)  # a path on the publisher's file server
    line = line.replace("\t", " ").replace("|", " ")
    line = re.sub(r"^#+\s*", "", line.strip())
    line = _SPACE_IN_CJK.sub("", line)
    return re.sub(r"\s{2,}", " ", line).strip()


def _level(line: str) -> int | None:
    for level, pattern in _MARKERS:
        if pattern.match(line):
            return level
    return None


def read_units(text: str) -> list[tuple[tuple[str, ...], str]]:
    """(heading path, item text) for every item of a document, in order."""
    units: list[tuple[tuple[str, ...], str]] = []
    headings: dict[int, str] = {}
    current: list[str] = []
    current_path: tuple[str, ...] = ()

    def flush() -> None:
        if current:
            units.append((current_path, "".join(current)))
            current.clear()

    for raw in text.splitlines():
        if not raw.strip() or _PAGE_NUMBER.match(raw) or _TOC_LINE.search(raw):
            continue
        # Table cells (tabs, pipes, <p>) are separate statements: keep a gap between them.
        cells = [clean_line(c) for c in re.split(r"\t|\s\|\s|</p>\s*<p>", raw)]
        line = " ".join(c for c in cells if c)
        if not line or line.startswith("http") and current and line in "".join(current):
            continue  # the PDF repeats a link at the foot of its page
        level = _level(line)
        if level is not None or _LOOSE_ITEM.match(line):
            flush()
            if level is not None:
                for deeper in [k for k in headings if k >= level]:
                    del headings[deeper]
                above = tuple(headings[k] for k in sorted(headings))
                title = _bare_heading(line)
                if title and level <= HEADING_LEVELS:
                    headings[level] = title
                    continue  # a bare heading names the items below it; it is not one
                label = _label(line) if level <= HEADING_LEVELS else ""
                current_path = above + ((label,) if label else ())
            current.append(_strip_marker(line))
        else:
            if current and _joins(current[-1], line):
                current[-1] = current[-1] + line
            else:
                if not current:
                    current_path = tuple(headings[k] for k in sorted(headings))
                current.append(("" if not current else " ") + line)
    flush()
    return units


def _joins(previous: str, line: str) -> bool:
    """A PDF line break inside a sentence: glue without a space unless both sides are Latin."""
    return not (previous[-1:].isascii() and previous[-1:].isalnum() and line[:1].isascii() and line[:1].isalnum())


def _strip_marker(line: str) -> str:
    for _, pattern in _MARKERS:
        if pattern.match(line):
            return pattern.sub("", line, count=1).lstrip(" 、")
    return line


def _bare_heading(line: str) -> str:
    """「四、權利與義務：」「捌、執行須知」: a whole line that only names a section."""
    title = _strip_marker(line).rstrip("：: ")
    if not title:
        return line.strip()  # 「附件二」「第二部分」 alone
    if 1 < len(title) <= _BARE_HEADING_MAX and not re.search(r"[。；，,、（(「『：:？?]", title):
        return title
    return ""


def _label(line: str) -> str:
    """「二、輔導期間：自入選公告日起…」 -> 「輔導期間」: the label an item starts with."""
    m = re.match(r"^([^：:。，,]{2,16})[：:]", _strip_marker(line))
    return m.group(1).strip() if m else ""


def sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in _SENTENCE.split(text)) if s]


def windows(text: str, limit: int = MAX_PASSAGE_CHARS) -> list[str]:
    """Whole sentences, grouped up to ``limit`` characters (a longer sentence is cut at commas)."""
    out: list[str] = []
    buf = ""
    for sent in sentences(text):
        pieces = [sent] if len(sent) <= limit else _cut(sent, limit)
        for piece in pieces:
            if buf and len(buf) + len(piece) > limit:
                out.append(buf)
                buf = ""
            buf += piece
    if buf:
        out.append(buf)
    return out


def _cut(sentence: str, limit: int) -> list[str]:
    parts = re.split(r"(?<=[，、,])", sentence)
    out, buf = [], ""
    for part in parts:
        while len(part) > limit:
            out.append(buf + part[: limit - len(buf)]) if buf else out.append(part[:limit])
            part = part[limit - len(buf):] if buf else part[limit:]
            buf = ""
        if buf and len(buf) + len(part) > limit:
            out.append(buf)
            buf = ""
        buf += part
    if buf:
        out.append(buf)
    return out


def _is_prose(text: str) -> bool:
    """Form templates (「負責人姓名 參與者姓名 營業所在縣市…」, ☐ boxes, OOO) are not answers."""
    norm = normalize_text(text)
    if len(norm) < MIN_PASSAGE_CHARS:
        return False
    if text.count("○") + text.count("OOO") + text.count("XXX") + text.count("___") >= 2:
        return False
    return True


def load_passages(seeds_dir: Path, documents: dict[str, str]) -> list[Passage]:
    """Passages of the documents named in ``documents`` (number -> programme): for every item,
    the window of it and the items that follow in the same section, up to MAX_PASSAGE_CHARS
    (a flattened table row is a label item followed by short numbered cells; a rule is often a
    lead-in 「主要原則如下：」 and its numbered points)."""
    out: list[Passage] = []
    for path in sorted(Path(seeds_dir).glob("[0-9][0-9][0-9]_*.txt")):
        number = path.name[:3]
        program = documents.get(number)
        if program is None:
            continue
        pieces: list[tuple[tuple[str, ...], str]] = []
        for path_headings, text in read_units(path.read_text(encoding="utf-8")):
            pieces += [(path_headings, w) for w in windows(text)]
        seen: set[str] = set()
        n = 0
        for i, (headings, text) in enumerate(pieces):
            window = text
            for later_headings, later in pieces[i + 1:]:
                if later_headings[:1] != headings[:1] or len(window) + len(later) > MAX_PASSAGE_CHARS:
                    break
                window += later if window[-1:] in "。；：:" else " " + later
            if window in seen or not _is_prose(window):
                continue
            seen.add(window)
            n += 1
            out.append(Passage(id=f"doc-{number}-{n:04d}", doc=number, program=program,
                               headings=headings, text=window))
    return out


def as_entry(passage: Passage) -> Entry:
    """A passage in the shape SearchIndex indexes: its text is the phrasing; the headings are
    tags (they name the topic of every item under them)."""
    section = passage.headings[-1] if passage.headings else ""
    return Entry(id=passage.id, program=passage.program, question=passage.text, answer="",
                 source=f"{passage.doc} {section}".strip(), tags=passage.headings)


class PassageIndex:
    """The documents' passages, searchable like entries."""

    def __init__(self, passages: list[Passage], analyzer: Analyzer):
        self.passages = passages
        self.by_id = {p.id: p for p in passages}
        self.index = SearchIndex([as_entry(p) for p in passages], analyzer)

    def __len__(self) -> int:
        return len(self.passages)

    def passage(self, i: int) -> Passage:
        return self.passages[i]

    @staticmethod
    def overlap(a: Passage, b: Passage) -> bool:
        """Two windows of the same document that share text (one starts inside the other)."""
        return a.doc == b.doc and (a.text[:12] in b.text or b.text[:12] in a.text)


_REFERENCE = re.compile(r"[(（](?:附件[一二三四五六七八九十]+|註\s*\d+)[)）]|如註\s*\d+")


def readable(text: str) -> str:
    """What an owner reads: without the documents' cross-references (「(附件一)」「(註6)」), which
    point into the documents and mean nothing in a chat."""
    text = _REFERENCE.sub("", text)
    return re.sub(r"附件[一二三四五六七八九十]+", "附件", text)


def excerpt(passage: Passage, analysis: Analysis, index: SearchIndex, limit: int = EXCERPT_CHARS) -> str:
    """The sentences of ``passage`` that carry the question's words, in document order, within
    ``limit`` characters (the whole passage when it fits)."""
    text = readable(passage.text)
    if len(text) <= limit:
        return text
    parts = sentences(text)
    words = [w for w in index.content_words(analysis)]
    scored = []
    for i, sent in enumerate(parts):
        norm = normalize_text(sent)
        score = sum(index.analyzer.general_weight(w) for w in words
                    if any(f in norm for f in (w, *index.vocab.synonyms_of(w))))
        scored.append((score, i))
    chosen: list[int] = []
    used = 0
    for score, i in sorted(scored, key=lambda s: (-s[0], s[1])):
        if score <= 0 and chosen:
            break
        if used + len(parts[i]) > limit and chosen:
            continue
        chosen.append(i)
        used += len(parts[i])
    out = "".join(parts[i] for i in sorted(chosen))
    return out if len(out) <= limit else out[: limit - 1] + "…"
