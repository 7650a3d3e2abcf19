"""Shared pieces for the resilience tests: isolated apps on their own database, database
snapshots, and the counts file the README quotes (bench/results/resilience.json, git-ignored)."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import sqlalchemy as sa

from bot import create_app
from bot.db import Database, upgrade_schema

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "resilience.json"
_results_lock = threading.Lock()

# Tables whose rows are effects of a webhook; a rejected request must leave them untouched.
EFFECT_TABLES = ("inbound_events", "users", "conversations", "outbound_messages", "audit_log")


def record_counts(section: str, **counts) -> dict:
    """Merge one test's counts into bench/results/resilience.json (and return them)."""
    with _results_lock:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(RESULTS.read_text("utf-8"))
        except (OSError, ValueError):
            data = {}
        data[section] = counts
        RESULTS.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True), "utf-8")
    print(f"\n[resilience] {section}: {json.dumps(counts, ensure_ascii=False)}")
    return counts


def fresh_database_url(tmp_path: Path, name: str = "bot.db") -> str:
    """A migrated database of its own (SQLite under tmp_path, or the PostgreSQL test server)."""
    from tests.conftest import postgres_test_url

    url = postgres_test_url()
    if url:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path / name}"
    upgrade_schema(url)
    return url


def isolated_app(database_url: str, fake_line, *, background: bool = False, **extra):
    from tests.conftest import base_config

    app = create_app(base_config(database_url, fake_line, **extra))
    if background:
        app.extensions["bot"].start_background()
    return app


def snapshot(database: Database) -> tuple:
    """(row count, newest id) per effect table in one round trip: enough to see any insert or delete."""
    parts = []
    for table in EFFECT_TABLES:
        newest = "MAX(updated_at)" if table == "conversations" else "MAX(id)"
        parts.append(f"(SELECT COUNT(*) FROM {table}), (SELECT {newest} FROM {table})")
    with database.engine.connect() as connection:
        return tuple(connection.exec_driver_sql("SELECT " + ", ".join(parts)).first())


def outbox_deliveries(database: Database, fake_line) -> tuple[dict, dict[int, list[float]]]:
    """(rows, deliveries): rows maps outbox row id -> (webhookEventId or origin, recipient, kind);
    deliveries maps row id -> times at which the fake accepted that row's messages.

    A reply is matched by its reply token, anything pushed by its X-Line-Retry-Key."""
    from sqlmodel import select

    from bot.models import InboundEvent, OutboundMessage

    with database.session() as session:
        events = {row.id: row.webhook_event_id for row in session.exec(select(InboundEvent)).all()}
        outbox = session.exec(select(OutboundMessage)).all()
    rows, by_token, by_key = {}, {}, {}
    for row in outbox:
        origin = row.origin or ""
        label = events.get(int(origin[6:]), origin) if origin.startswith("event:") else origin
        rows[row.id] = (label, row.recipient, row.kind)
        by_key[row.retry_key] = row.id
        if row.reply_token:
            by_token[row.reply_token] = row.id
    deliveries: dict[int, list[float]] = {}
    with fake_line.lock:
        records = list(fake_line.records)
    for record in records:
        row_id = by_token.get(record.get("reply_token")) if record["kind"] == "reply" else by_key.get(record.get("retry_key"))
        if row_id is not None:
            deliveries.setdefault(row_id, []).append(record["at"])
    return rows, deliveries


def losses_and_duplicates(rows: dict, deliveries: dict) -> tuple[list, list]:
    lost = [row_id for row_id in rows if not deliveries.get(row_id)]
    doubled = [row_id for row_id, times in deliveries.items() if len(times) > 1]
    return lost, doubled


def out_of_order(rows: dict, deliveries: dict) -> list[str]:
    """Recipients whose messages arrived in a different order from the outbox's (row id) order."""
    per_user: dict[str, list[tuple[float, int]]] = {}
    for row_id, times in deliveries.items():
        recipient = rows[row_id][1]
        if recipient:
            per_user.setdefault(recipient, []).append((min(times), row_id))
    bad = []
    for recipient, items in per_user.items():
        ids = [row_id for _, row_id in sorted(items)]
        if ids != sorted(ids):
            bad.append(recipient)
    return bad
