"""Where personal data lives: one rule per table, declared by the domain that owns the table.

The data map (privacy.datamap) discovers every table from ``SQLModel.metadata``; a table without a
rule gets a generic one from its column names (``infer_rule``), so a new table is covered safely
before anyone declares anything. A domain declares a rule when the generic guess is not enough:

    from privacy.registry import register_personal_data
    register_personal_data("visits", user_columns=("advisor_line_user_id", "created_by"),
                           owner_columns=(), retain_reason="visits")

Terms (used by the summary, the export and erasure — 個資法 第3條 查詢、修正、停止處理、刪除):
* ``user_columns``: columns that may hold a LINE user id (a string, or a JSON list of ids). On
  erasure the person's id becomes a one-way pseudonym (in lists: removed, so nothing is ever sent).
* ``owner_columns``: the subset meaning "this row is about that person" (default: user_columns).
  Their rows are listed in 「我的資料」 and exported.
* ``erase_columns``: emptied on the person's rows (names, phones, message text…); their values are
  also searched for and scrubbed from every other table (with ``delete_rows`` too).
* ``json_columns``: JSON columns of the person's rows whose personal keys (name, phone, e-mail,
  address, text…) are emptied, recursively.
* ``delete_rows``: the person's rows are deleted outright (conversation state, sessions…).
* ``retain_reason``: the person's rows are kept (pseudonymised) because a rule requires it; the key
  of a zh-TW text in ``bot/texts/privacy.yaml`` (``retain_<reason>``) that tells the owner why.
* ``generic=False``: erasure leaves the table alone (privacy.erasure handles it: the hash-chained
  letters through privacy.letters_retention); its retained values are not scrubbed.
Every string and JSON column of every table is additionally scrubbed of the person's identifiers
(LINE id, names, phones, e-mails), whatever the rules say.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa


@dataclass(frozen=True)
class TableRule:
    table: str
    user_columns: tuple[str, ...] = ()
    owner_columns: tuple[str, ...] = ()
    erase_columns: tuple[str, ...] = ()
    json_columns: tuple[str, ...] = ()
    delete_rows: bool = False
    retain_reason: str | None = None
    related_by_company: bool = False  # rows of the person's companies belong in their export
    generic: bool = True  # False: erasure leaves this table to privacy.erasure's own code
    hidden_columns: tuple[str, ...] = ()  # never exported (hashes of secrets…)


RULES: dict[str, TableRule] = {}


def register_personal_data(table: str, *, user_columns=(), erase_columns=(), json_columns=(),
                           retain_reason: str | None = None, owner_columns=None, delete_rows: bool = False,
                           related_by_company: bool = False, hidden_columns=(), generic: bool = True) -> TableRule:
    """Declare how ``table`` holds personal data (see the module docstring). Last one wins."""
    user_columns = tuple(user_columns)
    rule = TableRule(table=table, user_columns=user_columns,
                     owner_columns=tuple(user_columns if owner_columns is None else owner_columns),
                     erase_columns=tuple(erase_columns), json_columns=tuple(json_columns),
                     delete_rows=delete_rows, retain_reason=retain_reason, related_by_company=related_by_company, hidden_columns=tuple(hidden_columns),
                     generic=generic)
    RULES[table] = rule
    return rule


# --- the generic fallback -------------------------------------------------------------------------

# Column names that hold LINE user ids, and those that mean "the row is this person's".
USER_ID_COLUMN = re.compile(r"(^|_)(line_user_id|user_id|recipients?|members|actor|signer|owner|"
                            r"created_by|updated_by|granted_by|used_by|answered_by|assigned_to|advisor)($|_)")
OWNER_COLUMN = re.compile(r"^(line_user_id|user_id|recipient|recipients|owner_line_user_id|owner|members)$")
# Column names (and JSON keys) that hold personal details.
PERSONAL_NAME = re.compile(r"(^|_)(name|display_name|contact|contact_name|representative|phone|mobile|tel|"
                           r"email|e_mail|mail|address|signed_name|ip|user_agent|text|question|message|"
                           r"note|notes)($|_)", re.IGNORECASE)
NOT_PERSONAL = {"program_id", "company_name", "audience_label", "kind", "status", "flow", "step"}


def is_user_id_column(name: str) -> bool:
    return bool(USER_ID_COLUMN.search(name))


def is_personal_key(name: str) -> bool:
    # "message_id", "ip_hash"…: references and digests, not the detail itself.
    if name in NOT_PERSONAL or name.endswith(("_id", "_hash", "_sha256", "_count")):
        return False
    return bool(PERSONAL_NAME.search(name))


def infer_rule(table: sa.Table) -> TableRule:
    """A safe guess for a table nobody declared: ids by column name, personal columns erased."""
    user_columns = tuple(c.name for c in table.columns if is_user_id_column(c.name) and _texty(c))
    owners = tuple(c for c in user_columns if OWNER_COLUMN.match(c))
    erase = tuple(c.name for c in table.columns
                  if c.name not in user_columns and not c.primary_key and is_personal_key(c.name) and _texty(c))
    json_columns = tuple(c.name for c in table.columns if isinstance(c.type, sa.JSON))
    return TableRule(table=table.name, user_columns=user_columns, owner_columns=owners, erase_columns=erase,
                     json_columns=json_columns)


def _texty(column: sa.Column) -> bool:
    affinity = getattr(column.type, "_type_affinity", None)
    return isinstance(column.type, sa.JSON) or bool(affinity and issubclass(affinity, sa.String))


def rule_for(table: sa.Table) -> TableRule:
    return RULES.get(table.name) or infer_rule(table)
