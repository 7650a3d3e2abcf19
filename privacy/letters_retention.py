"""What erasure keeps of a signed letter of intent, and how.

Rule: 002 叁 數位共好輔導說明 注意事項 — 「入案後，須提供全數輔導企業之合作意向書，以供備查」; the
letter (附件二) is a programme record. What the paper form itself holds is kept: 公司名稱、代表人、
電話、地址、統一編號, the signature and the stamped page. What it does not need is removed: the LINE
id and LINE name (→ pseudonym / nothing), the contact person's name, mobile and e-mail, the signer's
IP address and browser.

The record is hash-chained (letters.service). Redaction keeps that honest rather than hiding it:
each version keeps its original SHA-256 (what was signed; a downloaded PDF still proves it), the
redacted JSON's own hash is written in a new ``redacted`` event, and the chain is re-linked after
the actor ids are pseudonymised, with the previous head hash recorded in that event.
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
        redacted_versions = {}
        for version in session.execute(sa.select(LetterVersion).where(LetterVersion.letter_id == letter.id)).scalars():
            if version.signer_line_user_id != line_user_id:
                continue
            content = _redact_content(json.loads(version.canonical_json), pseudonym=pseudonym, removed=removed)
            version.canonical_json = doc.canonical_json(content)
            version.signer_line_user_id = pseudonym
            version.signer_display_name = None
            version.ip = None
            version.user_agent = None
            session.add(version)
            redacted_versions[str(version.id)] = {"original_sha256": version.sha256,
                                                  "redacted_sha256": doc.sha256_hex(version.canonical_json)}
        previous_head = letter.head_hash
        events = list(session.execute(sa.select(LetterEvent).where(LetterEvent.letter_id == letter.id)
                                      .order_by(LetterEvent.seq)).scalars())
        prev = ""
        for event in events:
            if event.actor == line_user_id:
                event.actor = pseudonym
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
                               "rule": RULE, "previous_head_hash": previous_head, "versions": redacted_versions,
                               "removed": ["line_user_id", "display_name", *CONTACT_FIELDS, "ip", "user_agent"]},
                           prev_hash=prev, hash="")
        note.hash = letters_service.event_hash(prev, note)
        letter.event_count = note.seq
        letter.head_hash = note.hash
        letter.updated_at = utc_now()
        session.add(note)
        session.add(letter)
        retained = retained or letter.status == "signed" or bool(redacted_versions)
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
