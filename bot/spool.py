"""The event spool: where web processes put webhook events on SQLite when a worker process
handles them (EVENT_PROCESSING=worker, the Procfile's split).

SQLite has one write lock per database file. When the webhook's acks wrote into the main
database, every ack queued behind the worker's processing transactions and every processing
transaction queued behind acks: a lock convoy between two processes that halved the ack rate and
left events waiting up to half a second before a worker thread could start them (README,
Benchmarks). The spool is a second, tiny SQLite file next to the main one, so the two sides never
wait for each other's lock:

* a web process appends the events of a request (group-committed by ``EventInbox``) and acks
  once they are durable: a 200 never stands for an event that could be lost;
* the worker process copies new spool rows into ``inbound_events`` in one transaction (INSERT …
  ON CONFLICT DO NOTHING on the event id: what makes an event take effect once, as before), then
  polls and processes them exactly as it does without a spool;
* rows the worker has copied are deleted from the spool now and then. A row is only deleted
  after its copy committed, and a worker that starts copies the whole spool again (duplicates are
  ignored), so a crash at any point loses nothing.

PostgreSQL locks rows, not the database: there the webhook writes ``inbound_events`` directly.
Plain ``sqlite3`` rather than SQLAlchemy: the spool is a queue file with three statements, not
part of the schema (no migrations; it is created on first use).
"""
from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator, NamedTuple

from bot.db import WriterGate

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: never reused after a delete
    webhook_event_id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    received_at REAL NOT NULL               -- seconds since the epoch
)"""
_APPEND = ("INSERT INTO spooled_events (webhook_event_id, payload, received_at) VALUES (?, ?, ?) "
           "ON CONFLICT (webhook_event_id) DO NOTHING")
_READ = "SELECT seq, payload, received_at FROM spooled_events WHERE seq > ? ORDER BY seq LIMIT ?"
_FORGET = "DELETE FROM spooled_events WHERE seq <= ?"


class SpooledEvent(NamedTuple):
    seq: int
    event: dict
    received_at: datetime


def spool_path(database_file: str) -> str:
    """Where the spool of a SQLite database file lives: next to it."""
    return f"{database_file}-spool"


class EventSpool:
    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()  # a connection per thread (sqlite3 objects are not shared)
        self._serials = itertools.count(1)
        # Writers of all processes take turns as on the main database (bot.db.WriterGate: an
        # flock across processes, which wakes the next one the moment it is free where SQLite's
        # busy handler sleeps in steps of up to 100 ms, and turns in arrival order inside one).
        self._writers = WriterGate(path)

    # --- web side ---------------------------------------------------------------------------
    def append(self, events: list[dict]) -> list[str]:
        """Store the events not spooled before (one transaction); returns their event ids."""
        if not events:
            return []
        now = time.time()
        # ASCII-escaped, as SQLAlchemy's JSON type stores it: a signed body may carry a lone
        # surrogate ("\ud800"), which json.loads accepts but no UTF-8 text column can hold.
        rows = [(event["webhookEventId"], json.dumps(event), now) for event in events]
        added = []
        with self._write() as connection:
            for row in rows:
                if connection.execute(_APPEND, row).rowcount:
                    added.append(row[0])
        return added

    # --- worker side ------------------------------------------------------------------------
    def read(self, *, after: int, limit: int = 500) -> list[SpooledEvent]:
        """Spooled events with a sequence number past ``after``, oldest first."""
        connection = self._connection()
        rows = connection.execute(_READ, (after, limit)).fetchall()
        return [SpooledEvent(seq, json.loads(payload), datetime.fromtimestamp(received, timezone.utc))
                for seq, payload, received in rows]

    def version(self) -> tuple[int, int]:
        """Changes whenever another connection commits to the spool (PRAGMA data_version: no
        query plan, microseconds; the worker asks up to 100 times a second). The counter is the
        connection's own, so it comes with the connection's serial number: versions seen by two
        threads never compare equal."""
        connection = self._connection()
        return self._local.serial, connection.execute("PRAGMA data_version").fetchone()[0]

    def forget(self, *, up_to: int) -> None:
        """Delete the rows up to ``up_to``: only ever called once their copies have committed."""
        with self._write() as connection:
            connection.execute(_FORGET, (up_to,))

    def truncate_wal(self) -> bool:
        """Checkpoint and truncate the spool's WAL (see Database.truncate_wal): trimmed payloads
        must not linger there after an erasure. True when done."""
        if not self.exists():
            return True
        return not self._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]

    def exists(self) -> bool:
        """Whether any process has spooled here (the file is created on first use)."""
        return os.path.exists(self.path)

    def count(self) -> int:
        return self._connection().execute("SELECT count(*) FROM spooled_events").fetchone()[0]

    # --- plumbing ---------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():  # not one inherited over a fork
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            connection.execute("PRAGMA synchronous=NORMAL")  # as the main database (bot.db)
            connection.execute("PRAGMA secure_delete=ON")  # trimmed payloads are zeroed (bot.db)
            connection.execute(_SCHEMA)
            self._local.connection, self._local.pid = connection, os.getpid()
            self._local.serial = next(self._serials)
        return connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        self._writers.acquire()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        finally:
            self._writers.release()
