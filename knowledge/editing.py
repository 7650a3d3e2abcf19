"""Small, careful edits of entry files from the staff-answer path (issue 4: "the answered
question can be added to the knowledge base as a new phrasing in one step").

The files are staff-edited YAML with comments, so they are edited as text (never re-dumped):
a new phrasing is one line appended to the entry's ``alternatives`` list.  Every edit is
checked by re-parsing the file, and the caller reloads the KB strictly; on any failure the
file is restored byte for byte.
"""
from __future__ import annotations

import json
import re
import threading
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Iterator

import yaml

from .loader import STAFF_ANSWERS_DIR, STAFF_SOURCE_PREFIX

_edit_lock = threading.Lock()


class EditError(Exception):
    """The edit could not be made (unknown entry, duplicate phrasing, broken file)."""


def _quoted(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: safe for any punctuation.
    return json.dumps(" ".join(text.split()), ensure_ascii=False)


def _id_line(entry_id: str) -> re.Pattern[str]:
    """The ``- id: <entry_id>`` line that opens the entry."""
    return re.compile(rf"^\s*-\s+id:\s*['\"]?{re.escape(entry_id)}['\"]?\s*$", re.M)


def find_entry_file(entries_dir: Path, entry_id: str) -> Path | None:
    pattern = _id_line(entry_id)
    for path in sorted(Path(entries_dir).rglob("*.y*ml")):
        if pattern.search(path.read_text(encoding="utf-8")):
            return path
    return None


def _insert_alternative(text: str, entry_id: str, phrasing: str) -> str:
    lines = text.splitlines(keepends=True)
    pattern = _id_line(entry_id)
    start = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
    if start is None:
        raise EditError(f"entry {entry_id} not found")
    key_indent = len(lines[start]) - len(lines[start].lstrip(" -"))
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"^\s*-\s+id:", lines[i])), len(lines))
    alt = next((i for i in range(start, end) if re.match(rf"^ {{{key_indent}}}alternatives:\s*$", lines[i])), None)
    if alt is None:
        # No list yet: add one right after the canonical question.
        q = next((i for i in range(start, end) if re.match(rf"^( {{{key_indent}}}|\s*-\s+)question:", lines[i])), start)
        block = [" " * key_indent + "alternatives:\n", " " * (key_indent + 2) + f"- {_quoted(phrasing)}\n"]
        return "".join(lines[: q + 1] + block + lines[q + 1:])
    last = alt
    item_indent = None
    for i in range(alt + 1, end):
        stripped = lines[i].strip()
        if stripped.startswith("- ") and (item_indent is None or lines[i].startswith(" " * item_indent + "- ")):
            item_indent = len(lines[i]) - len(lines[i].lstrip(" "))
            last = i
        elif stripped and not stripped.startswith("#"):
            break
    indent = " " * (item_indent if item_indent is not None else key_indent + 2)
    if not lines[last].endswith("\n"):
        lines[last] += "\n"
    return "".join(lines[: last + 1] + [f"{indent}- {_quoted(phrasing)}\n"] + lines[last + 1:])


@contextmanager
def edited(path: Path, new_text: str) -> Iterator[None]:
    """Write ``new_text``; restore the old content if the body raises."""
    old = path.read_bytes() if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new_text, encoding="utf-8")
    try:
        yield
    except BaseException:
        if old is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(old)
        raise


def add_phrasing(*, entries_dir: Path, entry_id: str, phrasing: str, reload) -> Path:
    """Append ``phrasing`` to entry ``entry_id``'s alternatives and run ``reload()``
    (the KB's strict reload).  Restores the file and raises :class:`EditError` on failure."""
    phrasing = " ".join((phrasing or "").split())
    if not phrasing:
        raise EditError("empty phrasing")
    with _edit_lock:
        path = find_entry_file(Path(entries_dir), entry_id)
        if path is None:
            raise EditError(f"entry {entry_id} not found")
        new_text = _insert_alternative(path.read_text(encoding="utf-8"), entry_id, phrasing)
        data = yaml.safe_load(new_text)
        entry = next((e for e in data if isinstance(e, dict) and e.get("id") == entry_id), None)
        if entry is None or phrasing not in [str(a) for a in entry.get("alternatives") or []]:
            raise EditError(f"could not add the phrasing to {entry_id}")
        try:
            with edited(path, new_text):
                reload()
        except Exception as exc:
            raise EditError(f"knowledge base rejected the edit: {exc}") from exc
        return path


def add_staff_entry(*, entries_dir: Path, entry_id: str, program: str, question: str, answer: str,
                    answered_by: str, reload, today: date | None = None) -> Path:
    """Write a staff-written answer as its own entry file under entries/staff-answers/."""
    today = today or date.today()
    path = Path(entries_dir) / STAFF_ANSWERS_DIR / f"{entry_id}.yaml"
    if path.exists():
        raise EditError(f"{path.name} already exists")
    body = (
        f"# Written from a staff answer to an unanswered question ({today.isoformat()}).\n"
        f"- id: {entry_id}\n"
        f"  program: {program}\n"
        f"  question: {_quoted(question)}\n"
        f"  answer: {_quoted(answer)}\n"
        f"  source: {_quoted(f'{STAFF_SOURCE_PREFIX} {today.isoformat()} {answered_by}'.strip())}\n"
        f"  reviewed: {today.isoformat()}\n"
    )
    with _edit_lock:
        try:
            with edited(path, body):
                reload()
        except Exception as exc:
            raise EditError(f"knowledge base rejected the new entry: {exc}") from exc
    return path
