"""刪除 (個資法 第3條; seed 002 捌 六): erase or irreversibly anonymise one person everywhere.

``erase_person`` runs in the caller's transaction and touches every table the data map finds:
1. collects the person's identifiers (LINE id, LINE name, contact names, phones, e-mails — from
   their profile, letters, answers and what they typed);
2. cancels anything still queued to them;
3. keeps what a programme rule requires (signed letters, visit records, the audit trail) with the
   person replaced by a one-way pseudonym — and says why (``Erasure.retained``);
4. applies each table's rule (delete rows / pseudonymise ids / empty personal columns);
5. scrubs every string and JSON column of every other table of any remaining identifier;
6. anonymises the user row.
The confirmation reply queued after the erasure is pseudonymised by ``finalise_pending`` once sent.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.db import utc_now
from bot.models import Conversation, InboundEvent, OutboundMessage
from bot.services import audit, find_user
from privacy import datamap
from privacy.models import PrivacyErasure
from privacy.registry import TableRule, is_personal_key, rule_for

log = logging.getLogger(__name__)

REMOVED = "[已刪除]"
PHONE = re.compile(r"(?<!\d)(?:09\d{2}[- ]?\d{3}[- ]?\d{3}|0\d{1,2}[- ]?\d{3,4}[- ]?\d{4})(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
MIN_SCRUB_LENGTH = 2  # shorter values would wipe unrelated text


@dataclass
class Erasure:
    pseudonym: str
    retained: list[str] = field(default_factory=list)  # reasons (privacy.yaml retain_<reason>)
    tables: dict[str, int] = field(default_factory=dict)  # rows changed or deleted, by table
    found: bool = True


# --- identifiers ----------------------------------------------------------------------------------

def identifiers(session: Session, *, line_user_id: str) -> set[str]:
    """Personal values of this person that may have been copied into other rows."""
    values: set[str] = set()
    user = find_user(session, line_user_id)
    if user and user.display_name:
        values.add(user.display_name)
    tables = {t.name: t for t in datamap.all_tables(session)}
    if "letter_versions" in tables:
        from privacy.letters_retention import letter_identifiers

        values |= letter_identifiers(session, line_user_id=line_user_id)
    for table in tables.values():
        rule = rule_for(table)
        for row in datamap.owned_rows(session, table, rule, line_user_id):
            for name, value in row.items():
                if name in rule.erase_columns or name in rule.json_columns:
                    values |= _personal_values(value, key=name)
    conversation = session.get(Conversation, line_user_id)
    if conversation is not None:
        values |= _personal_values(conversation.data or {}, key="")
        values |= _personal_values((conversation.memory or {}).get("paused", {}), key="")
    # Whatever they typed that looks like a phone number or an e-mail.
    for payload in session.exec(select(InboundEvent.payload).where(InboundEvent.line_user_id == line_user_id)):
        text = ((payload or {}).get("message") or {}).get("text") or ""
        values |= set(PHONE.findall(text)) | set(EMAIL.findall(text))
    values = {v.strip() for v in values if isinstance(v, str)}
    values |= {re.sub(r"\D", "", v) for v in values if PHONE.fullmatch(v)}
    return {v for v in values if len(v) >= MIN_SCRUB_LENGTH and v != line_user_id}


def _personal_values(value: Any, *, key: str) -> set[str]:
    """Strings under personal keys (name, phone, email, address…), and phone/e-mail shaped ones."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found |= _personal_values(v, key=str(k))
    elif isinstance(value, list):
        for item in value:
            found |= _personal_values(item, key=key)
    elif isinstance(value, str):
        if EMAIL.fullmatch(value.strip()) or PHONE.fullmatch(value.strip()):
            found.add(value)
        elif key and is_personal_key(key) and key not in ("text", "message", "question", "note", "notes"):
            found.add(value)
        else:
            found |= set(PHONE.findall(value)) | set(EMAIL.findall(value))
    return found


# --- replacing values -----------------------------------------------------------------------------

def scrub(value: Any, *, line_user_id: str, pseudonym: str, values: set[str]) -> Any:
    """A copy with the LINE id → pseudonym (removed from lists) and personal values → [已刪除]."""
    if isinstance(value, dict):
        return {k: scrub(v, line_user_id=line_user_id, pseudonym=pseudonym, values=values) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, line_user_id=line_user_id, pseudonym=pseudonym, values=values)
                for v in value if v != line_user_id]
    if isinstance(value, str):
        value = value.replace(line_user_id, pseudonym)
        for personal in sorted(values, key=len, reverse=True):
            value = value.replace(personal, REMOVED)
        return value
    return value


def _strip_personal_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (None if is_personal_key(str(k)) and not isinstance(v, (dict, list)) else _strip_personal_keys(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_personal_keys(v) for v in value]
    return value


def _empty(column: sa.Column) -> Any:
    if datamap.is_json(column):
        return [] if column.name in ("messages", "recipients", "members", "history", "photos", "candidates") else {}
    if column.nullable:
        return None
    return REMOVED if datamap.is_string(column) else column.default.arg if column.default is not None else None


def _where_key(table: sa.Table, row: dict):
    return sa.and_(*(c == row[c.name] for c in table.primary_key.columns))


# --- the erasure ----------------------------------------------------------------------------------

def erase_person(session: Session, *, line_user_id: str, config: dict, reply_key: str | None = None,
                 actor: str | None = None) -> Erasure:
    pseudonym = datamap.pseudonym(config, line_user_id)
    result = Erasure(pseudonym=pseudonym)
    values = identifiers(session, line_user_id=line_user_id)
    tables = {t.name: t for t in datamap.all_tables(session)}

    # ORM objects the dispatcher may hold in this very session: change them through the ORM.
    user = find_user(session, line_user_id)
    result.found = user is not None
    conversation = session.get(Conversation, line_user_id)
    if conversation is not None:
        # Re-keyed, emptied, and deleted by finalise_pending (the dispatcher saves it after us).
        conversation.line_user_id = pseudonym
        conversation.data, conversation.history, conversation.memory = {}, [], {}
        session.add(conversation)
        _count(result, "conversations")
    if user is not None:
        user.line_user_id = pseudonym
        user.display_name = None
        user.consent_version = user.consent_hash = None
        user.consented_at = None
        user.is_following = False
        user.reminders_enabled = False
        user.processing_stopped = True
        session.add(user)
        _count(result, "users")
    session.flush()

    # Nothing more is sent to them.
    cancelled = session.execute(sa.update(OutboundMessage).where(
        OutboundMessage.recipient == line_user_id, OutboundMessage.status == "pending").values(status="cancelled"))
    if cancelled.rowcount:
        _count(result, "outbound_messages", cancelled.rowcount)

    # Letters of intent: kept as the programme requires, the person pseudonymised.
    if "letters" in tables:
        from privacy.letters_retention import redact_letters

        if redact_letters(session, line_user_id=line_user_id, pseudonym=pseudonym, removed=values):
            result.retained.append("letter")
            _count(result, "letters")
    if "companies" in tables:
        _erase_companies(session, line_user_id=line_user_id, result=result, retained_letter="letter" in result.retained)

    generic = [table for table in tables.values() if rule_for(table).generic]
    for table in generic:
        _apply_rule(session, table, rule_for(table), line_user_id=line_user_id, pseudonym=pseudonym, result=result)
    for table in generic:
        _scrub_table(session, table, line_user_id=line_user_id, pseudonym=pseudonym, values=values, result=result)

    session.add(PrivacyErasure(pseudonym=pseudonym, reply_key=reply_key))
    audit(session, actor=actor or pseudonym, action="privacy_erased", target=pseudonym,
          tables=sorted(result.tables), retained=result.retained)
    session.flush()
    return result


def _count(result: Erasure, table: str, n: int = 1) -> None:
    result.tables[table] = result.tables.get(table, 0) + n


def _apply_rule(session: Session, table: sa.Table, rule: TableRule, *, line_user_id: str, pseudonym: str,
                result: Erasure) -> None:
    owned = datamap.owned_rows(session, table, rule, line_user_id)
    for row in owned:
        if rule.delete_rows and not rule.retain_reason:
            session.execute(sa.delete(table).where(_where_key(table, row)))
            _count(result, table.name)
            continue
        changes = {}
        for name in rule.erase_columns:
            if name in table.c:
                changes[name] = _empty(table.c[name])
        for name in rule.json_columns:
            if name in table.c and name not in changes:
                changes[name] = _strip_personal_keys(row.get(name))
        if changes:
            session.execute(sa.update(table).where(_where_key(table, row)).values(**changes))
            _count(result, table.name)
        if rule.retain_reason and rule.retain_reason not in result.retained:
            result.retained.append(rule.retain_reason)
    # Every column that may hold the id: pseudonym (strings) or removed (JSON lists).
    for name in rule.user_columns:
        if name not in table.c:
            continue
        column = table.c[name]
        if datamap.is_json(column):
            for row in session.execute(sa.select(table).where(datamap.holds_user(column, line_user_id))).mappings():
                value = row[name]
                if isinstance(value, list) and line_user_id in value:
                    session.execute(sa.update(table).where(_where_key(table, dict(row)))
                                    .values(**{name: [v for v in value if v != line_user_id]}))
                    _count(result, table.name)
        elif not column.primary_key:
            changed = session.execute(sa.update(table).where(column == line_user_id).values(**{name: pseudonym}))
            if changed.rowcount:
                _count(result, table.name, changed.rowcount)
        else:
            # A primary key that is the id (conversations, team_members): the row is the person's.
            deleted = session.execute(sa.delete(table).where(column == line_user_id))
            if deleted.rowcount:
                _count(result, table.name, deleted.rowcount)


def _scrub_table(session: Session, table: sa.Table, *, line_user_id: str, pseudonym: str, values: set[str],
                 result: Erasure) -> None:
    columns = [c for c in table.columns if datamap.is_json(c) or datamap.is_string(c)]
    if not columns:
        return
    needles = {line_user_id, *values}
    condition = sa.or_(*(datamap.mentions(c, needles) for c in columns))
    for row in session.execute(sa.select(table).where(condition)).mappings():
        row = dict(row)
        changes = {}
        for column in columns:
            old = row.get(column.name)
            new = scrub(old, line_user_id=line_user_id, pseudonym=pseudonym, values=values)
            if new != old:
                changes[column.name] = new
        if changes:
            session.execute(sa.update(table).where(_where_key(table, row)).values(**changes))
            _count(result, table.name)


def _erase_companies(session: Session, *, line_user_id: str, result: Erasure, retained_letter: bool) -> None:
    """A company spoken for only by this person, with no retained letter: its details go too."""
    from companies.models import Company, CompanyMember

    for company_id in datamap.company_ids_of(session, line_user_id):
        others = session.execute(sa.select(sa.func.count()).select_from(CompanyMember).where(
            CompanyMember.company_id == company_id, CompanyMember.line_user_id != line_user_id)).scalar_one()
        company = session.get(Company, company_id)
        if company is None or others or (retained_letter and company.letter_status != "none"):
            continue
        company.name = None
        company.tax_id = None
        company.main_product = None
        company.township = None
        company.answers = {}
        company.status = "withdrawn"
        company.updated_at = utc_now()
        session.add(company)
        _count(result, "companies")
    session.flush()


# --- after the confirmation reply -----------------------------------------------------------------

FINAL_STATUSES = ("sent", "dead", "cancelled")


def finalise_pending(session: Session) -> int:
    """Pseudonymise confirmation replies already sent and drop the re-keyed conversation rows."""
    done = 0
    pending = session.exec(select(PrivacyErasure).where(PrivacyErasure.finalised_at.is_(None))).all()
    for erasure in pending:
        session.execute(sa.delete(Conversation).where(Conversation.line_user_id == erasure.pseudonym))
        if erasure.reply_key:
            row = session.exec(select(OutboundMessage).where(OutboundMessage.idempotency_key == erasure.reply_key)).first()
            if row is not None and row.status not in FINAL_STATUSES:
                continue  # still being sent: try again on the next pass
            if row is not None:
                row.recipient = erasure.pseudonym if row.recipient else None
                row.reply_token = None
                row.messages = []
                session.add(row)
        erasure.finalised_at = utc_now()
        session.add(erasure)
        done += 1
    return done
