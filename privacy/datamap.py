"""The data map: every table, found from ``SQLModel.metadata``, and the rows that are one person's.

Used by 「我的資料」 (summary and export), the staff view of a person and erasure. Works on any
table a domain adds later (see privacy.registry for the rules and the generic fallback)."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date, datetime
from typing import Any, Iterable

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from bot.db import import_all_models
from privacy.registry import TableRule, rule_for

LIKE_ESCAPE = "!"


def pseudonym(config: dict, line_user_id: str) -> str:
    """A one-way, stable stand-in for a LINE id (keyed HMAC: cannot be turned back into the id).

    Stable so that what one person did stays linked (an audit trail still reads as one actor)."""
    secret = config.get("SECRET_KEY")
    if not secret:  # never the channel secret: whoever has it could reverse pseudonyms by trying ids
        raise RuntimeError("pseudonyms need SECRET_KEY")
    digest = hmac.new(str(secret).encode(), f"privacy-pseudonym:{line_user_id}".encode(), hashlib.sha256)
    return "anon-" + digest.hexdigest()[:27]


def all_tables(session: Session) -> list[sa.Table]:
    """Every model table that exists in this database, parents before children."""
    import_all_models()
    existing = set(sa.inspect(session.connection()).get_table_names())
    return [table for table in SQLModel.metadata.sorted_tables if table.name in existing]


def table_by_name(session: Session, name: str) -> sa.Table | None:
    return next((t for t in all_tables(session) if t.name == name), None)


def like_pattern(value: str) -> str:
    escaped = value.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def text_forms(value: str) -> set[str]:
    """How a value may appear in a column: as typed, and inside JSON (non-ASCII escaped)."""
    forms = {value}
    escaped = json.dumps(value)[1:-1]
    if escaped != value:
        forms.add(escaped)
    return forms


def is_json(column: sa.Column) -> bool:
    return isinstance(column.type, sa.JSON)


def is_string(column: sa.Column) -> bool:
    # sqlmodel's AutoString is a TypeDecorator over String: compare the type's affinity.
    affinity = getattr(column.type, "_type_affinity", None)
    return bool(affinity) and issubclass(affinity, sa.String) and not is_json(column)


def mentions(column: sa.Column, values: Iterable[str]):
    """SQL: the column (as text) contains any of the values."""
    expression = sa.cast(column, sa.Text) if is_json(column) else column
    clauses = [expression.like(like_pattern(form), escape=LIKE_ESCAPE)
               for value in values for form in text_forms(value)]
    return sa.or_(*clauses) if clauses else sa.false()


def holds_user(column: sa.Column, line_user_id: str):
    """SQL: the column is this LINE id, or (JSON list) contains it."""
    if is_json(column):
        return sa.cast(column, sa.Text).like(like_pattern(f'"{line_user_id}"'), escape=LIKE_ESCAPE)
    return column == line_user_id


def owned_rows(session: Session, table: sa.Table, rule: TableRule, line_user_id: str) -> list[dict]:
    columns = [table.c[name] for name in rule.owner_columns if name in table.c]
    if not columns:
        return []
    statement = sa.select(table).where(sa.or_(*(holds_user(c, line_user_id) for c in columns)))
    rows = [dict(row._mapping) for row in session.execute(statement)]
    # LIKE on JSON text is a prefilter; keep rows whose value really is (or lists) the id.
    return [row for row in rows if any(_is_or_lists(row.get(c.name), line_user_id) for c in columns)]


def _is_or_lists(value: Any, line_user_id: str) -> bool:
    if isinstance(value, list):
        return line_user_id in value
    return value == line_user_id


def company_ids_of(session: Session, line_user_id: str) -> list[int]:
    from companies.models import CompanyMember

    statement = sa.select(CompanyMember.company_id).where(CompanyMember.line_user_id == line_user_id)
    return sorted(set(session.execute(statement).scalars()))


def related_rows(session: Session, table: sa.Table, company_ids: list[int]) -> list[dict]:
    """Rows about the person's companies (their company's visits, letters…)."""
    if not company_ids:
        return []
    key = "id" if table.name == "companies" else "company_id"
    if key not in table.c:
        return []
    statement = sa.select(table).where(table.c[key].in_(company_ids))
    return [dict(row._mapping) for row in session.execute(statement)]


def person_rows(session: Session, *, line_user_id: str) -> dict[str, list[dict]]:
    """Every row that is this person's, or about their companies, by table name."""
    company_ids = company_ids_of(session, line_user_id)
    found: dict[str, list[dict]] = {}
    for table in all_tables(session):
        rule = rule_for(table)
        rows = owned_rows(session, table, rule, line_user_id)
        if rule.related_by_company or table.name == "companies":
            seen = {_key(table, row) for row in rows}
            rows += [row for row in related_rows(session, table, company_ids) if _key(table, row) not in seen]
        if table.name == "letter_versions" or table.name == "letter_events" or table.name == "letter_attachments":
            rows += _letter_children(session, table, found.get("letters", []), {_key(table, r) for r in rows})
        if rows:
            found[table.name] = [_exportable(table, rule, row) for row in rows]
    return found


def _letter_children(session: Session, table: sa.Table, letters: list[dict], seen: set) -> list[dict]:
    letter_ids = [row["id"] for row in letters]
    if not letter_ids or "letter_id" not in table.c:
        return []
    statement = sa.select(table).where(table.c.letter_id.in_(letter_ids))
    return [row for row in (dict(r._mapping) for r in session.execute(statement)) if _key(table, row) not in seen]


def _key(table: sa.Table, row: dict) -> tuple:
    return tuple(row.get(c.name) for c in table.primary_key.columns)


def _exportable(table: sa.Table, rule: TableRule, row: dict) -> dict:
    return {name: plain(value) for name, value in row.items() if name not in rule.hidden_columns}


def plain(value: Any) -> Any:
    """A JSON-safe copy: datetimes as ISO text, bytes as their size and SHA-256."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value

