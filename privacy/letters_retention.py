"""What erasure keeps of a signed letter of intent, and how.

Rule: 002 叁 數位共好輔導說明 注意事項 — 「入案後，須提供全數輔導企業之合作意向書，以供備查」; the
letter (附件二) is a programme record. What the paper form itself holds is kept: 公司名稱、代表人、
電話、地址、統一編號, the signature and the stamped page. What it does not need is removed: the LINE
id and LINE name (→ pseudonym / nothing), the contact person's name, mobile and e-mail, the signer's
IP address and browser.

The record is hash-chained (letters.service). Redaction keeps it verifiable and says so: each
redacted version gets the SHA-256 of its redacted JSON (references to it are updated), the chain is
re-linked after the actor ids are pseudonymised, and a final ``redacted`` event records the rule,
the previous head hash and every original SHA-256 → redacted SHA-256 (so a PDF downloaded before
still matches the record). ``flask letters verify`` passes afterwards.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from sqlmodel import Session

from bot.db import utc_now

# Letter fields (letters.document.FIELDS) that are not on the signed paper form.
CONTACT_FIELDS = ("contact_name", "mobile", "email")
RULE = "002 叁 注意事項：入案後須提供全數輔導企業之合作意向書以供備查"


def letter_identifiers(session: Session, *, line_user_id: str) -> set[str]:
    """The person's details held only in letters (contact name, mobile, e-mail, LINE name)."""
    from letters.models import LetterVersion

    found: set[str] = set()
    versions = session.execute(sa.select(LetterVersion).where(LetterVersion.signer_line_user_id == line_user_id)).scalars()
    for version in versions:
        content = json.loads(version.canonical_json)
        fields = content.get("fields") or {}
        for name in CONTACT_FIELDS:
            if fields.get(name):
                found.add(str(fields[name]))
        if version.signer_display_name:
            found.add(version.signer_display_name)
    return found


def redact_letters(session: Session, *, line_user_id: str, pseudonym: str, removed: set[str]) -> bool:
    """Pseudonymise the person in every letter; True when a signed letter is retained."""
    from letters import document as doc
    from letters import service as letters_service
    from letters.models import Letter, LetterEvent, LetterVersion

    letter_ids = set(session.execute(sa.select(Letter.id).where(Letter.owner_line_user_id == line_user_id)).scalars())
    letter_ids |= set(session.execute(sa.select(LetterVersion.letter_id)
                                      .where(LetterVersion.signer_line_user_id == line_user_id)).scalars())
    letter_ids |= set(session.execute(sa.select(LetterEvent.letter_id).where(LetterEvent.actor == line_user_id)).scalars())
    retained = False
    for letter in session.execute(sa.select(Letter).where(Letter.id.in_(letter_ids))).scalars():
        renamed: dict[str, str] = {}  # original SHA-256 -> SHA-256 of the redacted version
        versions = list(session.execute(sa.select(LetterVersion).where(LetterVersion.letter_id == letter.id)
                                        .order_by(LetterVersion.version_no)).scalars())
        for version in versions:
            content = json.loads(version.canonical_json)
            if version.signer_line_user_id == line_user_id:
                content = _redact_content(content, pseudonym=pseudonym, removed=removed)
                version.signer_line_user_id = pseudonym
                version.signer_display_name = None
                version.ip = None
                version.user_agent = None
            elif content.get("supersedes_sha256") not in renamed:
                continue
            if content.get("supersedes_sha256") in renamed:
                content["supersedes_sha256"] = renamed[content["supersedes_sha256"]]
            version.canonical_json = doc.canonical_json(content)
            new_hash = doc.sha256_hex(version.canonical_json)
            renamed[version.sha256] = new_hash
            version.sha256 = new_hash
            session.add(version)
        previous_head = letter.head_hash
        events = list(session.execute(sa.select(LetterEvent).where(LetterEvent.letter_id == letter.id)
                                      .order_by(LetterEvent.seq)).scalars())
        prev = ""
        for event in events:
            if event.actor == line_user_id:
                event.actor = pseudonym
            if any(v in renamed for v in (event.detail or {}).values() if isinstance(v, str)):
                event.detail = {k: renamed.get(v, v) if isinstance(v, str) else v for k, v in event.detail.items()}
            event.prev_hash = prev
            event.hash = letters_service.event_hash(prev, event)
            prev = event.hash
            session.add(event)
        if letter.owner_line_user_id == line_user_id:
            letter.owner_line_user_id = pseudonym
        # The redaction itself is an event on the chain (kind outside letters.EVENT_KINDS on purpose:
        # it is written only here).
        note = LetterEvent(letter_id=letter.id, seq=len(events) + 1, kind="redacted", actor=pseudonym,
                           at=utc_now().replace(microsecond=0), detail={
                               "rule": RULE, "previous_head_hash": previous_head, "original_sha256": renamed,
                               "removed": ["line_user_id", "display_name", *CONTACT_FIELDS, "ip", "user_agent"]},
                           prev_hash=prev, hash="")
        note.hash = letters_service.event_hash(prev, note)
        letter.event_count = note.seq
        letter.head_hash = note.hash
        letter.updated_at = utc_now()
        session.add(note)
        session.add(letter)
        retained = retained or letter.status == "signed" or bool(renamed)
    session.flush()
    return retained


def _redact_content(content: dict, *, pseudonym: str, removed: set[str]) -> dict:
    content = dict(content)
    fields = dict(content.get("fields") or {})
    for name in CONTACT_FIELDS:
        if name in fields:
            fields[name] = None
    content["fields"] = fields
    signer = dict(content.get("signer") or {})
    signer["line_user_id"] = pseudonym
    signer["display_name"] = None
    content["signer"] = signer
    content["ip"] = None
    content["user_agent"] = None
    text = content.get("letter_text") or ""
    for value in sorted(removed, key=len, reverse=True):
        if value and len(value) >= 2 and value not in _kept_values(fields, signer):
            text = text.replace(value, "")
    content["letter_text"] = text
    content["redacted"] = {"rule": RULE}
    return content


def _kept_values(fields: dict, signer: dict) -> set[str]:
    kept = {str(v) for k, v in fields.items() if v and k not in CONTACT_FIELDS}
    if signer.get("signed_name"):
        kept.add(signer["signed_name"])
    return kept
