"""What owners must never read (issue 19): programme ids, section codes, hashes, LINE ids, operator
commands, English field names, Python values and raw links other than the bot's own.

Used by tests/test_plain_words.py on every reply template and by tests/conftest.py ``Chat`` on
every message a person without a role receives in the chat tests."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

DOCUMENTS = Path(__file__).resolve().parent.parent / "programs" / "documents"

PATTERNS = {
    "programme id": re.compile(r"\b[a-z]+-20\d\d(?:-v\d+)?\b"),
    "section code": re.compile(r"\b00\d\s*(?:[壹貳叁參肆伍陸柒捌玖拾]|附件)|附件[一二三四五六七八九十]"),
    "hash": re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{10,}\b"),
    "LINE id": re.compile(r"\bU[0-9a-f]{32}\b"),
    "operator command": re.compile(r"\bflask\s+--app\b"),
    "field name": re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b"),
    "Python value": re.compile(r"\b(?:None|True|False|null)\b"),
    "raw link": re.compile(r"https?://[^\s）」』，。、()]+"),
}


def internal_codes(text: str, *, own_links: tuple[str, ...] = ()) -> list[str]:
    """The internal codes in ``text``: ["hash: 2d34ab12cd"], or [] when it reads as plain words."""
    found = []
    for kind, pattern in PATTERNS.items():
        for match in pattern.findall(text):
            if kind == "raw link" and own_links and match.startswith(own_links):
                continue
            found.append(f"{kind}: {match}")
    return found


def readable_parts(message: dict) -> list[str]:
    """Everything a person reads in a LINE message object: texts, alt texts, button and
    quick-reply labels (not the addresses behind buttons, which are not shown)."""
    parts: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key in ("text", "altText", "label", "displayText"):
                if isinstance(node.get(key), str):
                    parts.append(node[key])
            for key, value in node.items():
                if key not in ("uri", "data", "originalContentUrl", "previewImageUrl", "url"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message)
    return parts


@lru_cache(maxsize=1)
def official_links() -> tuple[str, ...]:
    """Links the programme documents themselves publish (lookup pages for owners) and the links the
    unit set in its campaign data (e.g. the 前後測 forms the office hands out): not internals."""
    links = set()
    for path in (*DOCUMENTS.glob("*.txt"), DOCUMENTS.parent / "programs.yaml"):
        links.update(re.findall(r"https?://[^\s）」』，。、()]+", path.read_text(encoding="utf-8")))
    return tuple(sorted(links))
