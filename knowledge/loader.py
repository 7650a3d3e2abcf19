"""Load and validate knowledge-base entries (knowledge/entries/<program>/*.yaml).

The entry format is described in notes/kb_format.md.  Validation rules:

* required fields: id, program, question, answer, source;
* ``id``: lowercase ASCII letters, digits and '-', unique across the KB;
* ``program``: one of :data:`ALLOWED_PROGRAMS`;
* ``source``: ``"<seed number> <section path>"``; the seed number must name a
  file in ``seeds_dir`` (``002`` -> ``002_*.txt``) and the LAST word-group of the
  path must occur in that seed's text once whitespace is removed on both sides
  (the PDF extraction scatters spaces through the text);
* no two entries answer the same question: the normalised canonical question or
  any alternative may not be shared by two entries (the rule "merge instead");
* ``audience`` (optional): a list of :data:`AUDIENCES` (absent = everyone);
* ``counterpart`` (optional): the id of another existing entry answering the same
  topic for the other side (not the entry itself);
* ``unstated`` (optional, boolean): the documents do not state what the question asks
  (a penalty for a shop that quits, a pass mark); the answer says what they do and do not say.

Errors make the KB unusable for a strict (re)load; warnings are advisory.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# libyaml's C parser is ~10x faster than the pure-Python one (start-up budget).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

from .normalize import normalize_text

ALLOWED_PROGRAMS: tuple[str, ...] = ("gonghao-2023", "cluster-2022", "cluster-2021", "voucher", "general")
REQUIRED_FIELDS: tuple[str, ...] = ("id", "program", "question", "answer", "source")
# Who an answer is written for: a shop owner, the proposing unit (提案單位, staff), an advisor.
AUDIENCES: tuple[str, ...] = ("owner", "unit", "advisor")
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SEED_NUMBER_PATTERN = re.compile(r"^\d{3}$")
# kb_format.md: "ideally <= 250 chars, max 600" (a LINE text bubble on a phone).
ANSWER_HARD_LIMIT = 600
# Owners ask one fact in many ways (typos, Simplified, English words, a trade or a short elliptic
# form): an owner-facing entry needs up to 15 phrasings to be found by its owners' words.
ALTERNATIVES_RANGE = (3, 15)

# Answers written by programme staff for questions the documents do not cover live in
# entries/staff-answers/; their source is "承辦回覆 <date> <who>" instead of a seed section.
STAFF_ANSWERS_DIR = "staff-answers"
STAFF_SOURCE_PREFIX = "承辦回覆"

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENTRIES_DIR = REPO_ROOT / "knowledge" / "entries"
DEFAULT_SEEDS_DIR = REPO_ROOT / "programs" / "documents"


@dataclass(frozen=True)
class Entry:
    id: str
    program: str
    question: str
    answer: str
    source: str
    alternatives: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    reviewed: str | None = None
    file: str = ""
    audience: tuple[str, ...] = ()   # empty: written for everyone
    counterpart: str | None = None
    unstated: bool = False           # the documents do not state it; the answer says so

    def for_side(self, side: str) -> bool:
        return not self.audience or side in self.audience


@dataclass
class KBReport:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    files: int = 0
    entries: list[Entry] = field(default_factory=list)
    # ids of entries that carry at least one error (skipped by a lenient load)
    invalid_ids: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        per_program = ", ".join(f"{p}: {n}" for p, n in sorted(self.counts.items()))
        status = "OK" if self.ok else f"{len(self.errors)} error(s)"
        return (f"knowledge base: {self.total} entries in {self.files} files ({per_program}); "
                f"{status}, {len(self.warnings)} warning(s)")

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": list(self.errors), "warnings": list(self.warnings),
                "counts": dict(self.counts), "files": self.files, "total": self.total}


class SeedLibrary:
    """Seed texts indexed by their 3-digit number, whitespace-free for lookups."""

    def __init__(self, seeds_dir: Path | None):
        self.seeds_dir = seeds_dir
        self._compact: dict[str, str] = {}
        if seeds_dir is not None and seeds_dir.is_dir():
            for path in sorted(seeds_dir.glob("[0-9][0-9][0-9]_*.txt")):
                text = path.read_text(encoding="utf-8")
                self._compact[path.name[:3]] = _compact(text)

    @property
    def available(self) -> bool:
        return bool(self._compact)

    def has_seed(self, number: str) -> bool:
        return number in self._compact

    def contains(self, number: str, fragment: str) -> bool:
        return _compact(fragment) in self._compact.get(number, "")


def _compact(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", text)


def _as_str_list(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    return None


def _parse_entry(raw: Any, where: str, errors: list[str]) -> Entry | None:
    if not isinstance(raw, dict):
        errors.append(f"{where}: entry is not a mapping")
        return None
    missing = [f for f in REQUIRED_FIELDS if not str(raw.get(f) or "").strip()]
    label = f"{where} [{raw.get('id', '?')}]"
    if missing:
        errors.append(f"{label}: missing field(s) {', '.join(missing)}")
        return None
    entry_id = str(raw["id"]).strip()
    alternatives = _as_str_list(raw.get("alternatives"))
    tags = _as_str_list(raw.get("tags"))
    related = _as_str_list(raw.get("related"))
    for name, value in (("alternatives", alternatives), ("tags", tags), ("related", related)):
        if value is None:
            errors.append(f"{label}: '{name}' must be a list of strings")
    if alternatives is None or tags is None or related is None:
        return None
    audience = _as_str_list(raw.get("audience"))
    if audience is None:
        errors.append(f"{label}: 'audience' must be a list of {', '.join(AUDIENCES)}")
        return None
    counterpart = raw.get("counterpart")
    if counterpart is not None and not isinstance(counterpart, str):
        errors.append(f"{label}: 'counterpart' must be an entry id")
        return None
    unstated = raw.get("unstated", False)
    if not isinstance(unstated, bool):
        errors.append(f"{label}: 'unstated' must be true or false")
        return None
    reviewed = raw.get("reviewed")
    return Entry(
        id=entry_id,
        program=str(raw["program"]).strip(),
        question=str(raw["question"]).strip(),
        answer=str(raw["answer"]).strip(),
        source=" ".join(str(raw["source"]).split()),
        alternatives=tuple(a.strip() for a in alternatives if a.strip()),
        tags=tuple(t.strip() for t in tags if t.strip()),
        related=tuple(r.strip() for r in related if r.strip()),
        reviewed=None if reviewed is None else str(reviewed),
        file=where,
        audience=tuple(dict.fromkeys(audience)),
        counterpart=(counterpart or "").strip() or None,
        unstated=unstated,
    )


def _validate_entry(entry: Entry, seeds: SeedLibrary, errors: list[str], warnings: list[str]) -> None:
    label = f"{entry.file} [{entry.id}]"
    if not ID_PATTERN.match(entry.id):
        errors.append(f"{label}: id must be lowercase ascii letters, digits and '-'")
    if entry.program not in ALLOWED_PROGRAMS:
        errors.append(f"{label}: program '{entry.program}' not in {', '.join(ALLOWED_PROGRAMS)}")
    parts = entry.source.split(" ")
    staff_written = entry.file.replace("\\", "/").startswith(STAFF_ANSWERS_DIR + "/")
    if staff_written and parts[0] == STAFF_SOURCE_PREFIX:
        pass  # a staff answer: nothing in the seeds to resolve
    elif len(parts) < 2 or not SEED_NUMBER_PATTERN.match(parts[0]):
        errors.append(f"{label}: source '{entry.source}' must be '<seed number> <section path>'")
    elif seeds.available:
        number, last = parts[0], parts[-1]
        if not seeds.has_seed(number):
            errors.append(f"{label}: source seed {number} does not exist")
        elif not seeds.contains(number, last):
            errors.append(f"{label}: source '{entry.source}': '{last}' not found in seed {number}")
    unknown = [a for a in entry.audience if a not in AUDIENCES]
    if unknown:
        errors.append(f"{label}: audience {', '.join(unknown)} not in {', '.join(AUDIENCES)}")
    if len(entry.answer) > ANSWER_HARD_LIMIT:
        warnings.append(f"{label}: answer is {len(entry.answer)} chars (max {ANSWER_HARD_LIMIT})")
    low, high = ALTERNATIVES_RANGE
    if not low <= len(entry.alternatives) <= high:
        warnings.append(f"{label}: {len(entry.alternatives)} alternatives (expected {low}-{high})")
    if not entry.reviewed:
        warnings.append(f"{label}: no 'reviewed' date")


def load_entries_from_file(path: Path, errors: list[str], warnings: list[str], *, root: Path | None = None) -> list[Entry]:
    where = str(path.relative_to(root)) if root else str(path)
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        errors.append(f"{where}: cannot parse YAML: {str(exc).splitlines()[0]}")
        return []
    if data is None:
        warnings.append(f"{where}: empty file")
        return []
    if not isinstance(data, list):
        errors.append(f"{where}: top level must be a list of entries")
        return []
    entries = []
    for index, raw in enumerate(data):
        entry = _parse_entry(raw, f"{where}#{index + 1}", errors)
        if entry is not None:
            entries.append(entry)
    return entries


def check_knowledge_base(*, entries_dir: str | Path, seeds_dir: str | Path | None) -> KBReport:
    """Load every ``*.yaml``/``*.yml`` under ``entries_dir`` and validate it.

    ``seeds_dir=None`` skips source resolution (reported as a warning).  The
    returned report lists the parsed entries in file order; ``invalid_ids``
    names the ones that carry an error.
    """
    root = Path(entries_dir)
    report = KBReport()
    if not root.is_dir():
        report.errors.append(f"entries directory not found: {root}")
        return report
    seeds = SeedLibrary(Path(seeds_dir) if seeds_dir is not None else None)
    if seeds_dir is None:
        report.warnings.append("no seeds_dir given: sources not resolved")
    elif not seeds.available:
        report.errors.append(f"seeds directory has no seed files: {seeds_dir}")

    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    report.files = len(files)
    entries: list[Entry] = []
    for path in files:
        file_entries = load_entries_from_file(path, report.errors, report.warnings, root=root)
        for entry in file_entries:
            errors_before = len(report.errors)
            _validate_entry(entry, seeds, report.errors, report.warnings)
            if len(report.errors) > errors_before:
                report.invalid_ids.add(entry.id)
        entries.extend(file_entries)

    seen_ids: dict[str, Entry] = {}
    for entry in entries:
        if entry.id in seen_ids:
            report.errors.append(f"{entry.file} [{entry.id}]: duplicate id (also in {seen_ids[entry.id].file})")
            report.invalid_ids.add(entry.id)
        else:
            seen_ids[entry.id] = entry

    # "Two entries must never answer the same question" (kb_format.md).
    question_owner: dict[str, str] = {}
    for entry in entries:
        own: set[str] = set()
        for text in (entry.question, *entry.alternatives):
            key = normalize_text(text)
            if not key:
                continue
            if key in own:
                report.warnings.append(f"{entry.file} [{entry.id}]: phrasing repeated within the entry: {text}")
                continue
            own.add(key)
            other = question_owner.get(key)
            if other is not None and other != entry.id:
                report.errors.append(f"{entry.file} [{entry.id}]: question '{text}' is also asked by {other} (merge them)")
                report.invalid_ids.add(entry.id)
            else:
                question_owner[key] = entry.id

    for entry in entries:
        if entry.counterpart and (entry.counterpart == entry.id or entry.counterpart not in seen_ids):
            # An error (kb check fails, a strict reload refuses) but the entry itself still serves:
            # the engine ignores a counterpart it cannot find.
            report.errors.append(f"{entry.file} [{entry.id}]: counterpart '{entry.counterpart}' "
                                 f"must be the id of another entry")
        for rel in entry.related:
            if rel not in seen_ids:
                report.warnings.append(f"{entry.file} [{entry.id}]: related id '{rel}' does not exist")

    report.entries = entries
    for entry in entries:
        if entry.program in ALLOWED_PROGRAMS:
            report.counts[entry.program] = report.counts.get(entry.program, 0) + 1
    return report
