"""Inbound webhook events: stored once by webhookEventId, processed off the request thread.

The webhook handler only verifies, parses and inserts (ON CONFLICT DO NOTHING on the event id),
then acks. Worker threads in each process claim an event (pending -> processing, attempts+1) and
run the dispatcher; the dispatcher's transaction finishes with a conditional "done" update on the
same claim, so if two processes ever ran one event, only one transaction could commit its effects.
A sweeper returns events whose worker died to pending after a lease, and picks up events left
pending by another process or a restart.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from datetime import datetime, timedelta
from typing import Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from bot.db import Database, utc_now
from bot.models import InboundEvent
from bot.ratelimit import FloodGuard

log = logging.getLogger(__name__)


def event_user_id(event: dict) -> str | None:
    """The sender's LINE user id, or None when absent or not a plausible id (a signed but odd
    body must not reach the database as a huge integer or a 20,000-character "id": that failed
    the insert and answered 503, so the body was redelivered forever)."""
    source = event.get("source") or {}
    user_id = source.get("userId") if isinstance(source, dict) else None
    if isinstance(user_id, str) and 0 < len(user_id) <= 64 and user_id.isprintable():
        return user_id
    return None


def store_events(database: Database, events: list[dict]) -> list[tuple[int, str | None]]:
    """Insert events not seen before; returns (row id, user id) of the new ones."""
    if not events:
        return []
    rows = [{
        "webhook_event_id": event["webhookEventId"],
        "event_type": str(event.get("type", "")).replace("\x00", "")[:40],
        "line_user_id": (event_user_id(event) or None),
        "payload": event,
        "is_redelivery": bool((event.get("deliveryContext") or {}).get("isRedelivery")),
        "status": "pending", "attempts": 0, "received_at": utc_now(),
    } for event in events]
    dialect = postgresql if database.is_postgres else sqlite
    table = InboundEvent.__table__
    statement = dialect.insert(table).values(rows).on_conflict_do_nothing(
        index_elements=["webhook_event_id"]).returning(table.c.id, table.c.line_user_id)
    with database.write_session(priority=True) as session:  # the ack waits on this: fast lane
        return [(row[0], row[1]) for row in session.execute(statement).all()]


def claim_with_payload(database: Database, event_id: int) -> tuple[int, dict, datetime] | None:
    """Take an event for processing: (claim number, payload, received_at), or None if taken.
    One statement claims and reads (RETURNING), keeping the hot path to as few commits as possible."""
    with database.write_session() as session:
        result = session.execute(
            sa.update(InboundEvent)
            .where(InboundEvent.id == event_id, InboundEvent.status == "pending")
            .values(status="processing", attempts=InboundEvent.attempts + 1, claimed_at=utc_now())
            .returning(InboundEvent.attempts, InboundEvent.payload, InboundEvent.received_at))
        row = result.first()
        return (row[0], row[1], row[2]) if row else None


def claim(database: Database, event_id: int) -> int | None:
    """Take an event for processing; returns the claim number (attempts) or None if taken."""
    claimed = claim_with_payload(database, event_id)
    return claimed[0] if claimed else None


class EventWorker:
    """Background processing for one process: a few threads, each owning a share of users so one
    user's events are handled in order, plus a sweeper for leases, restarts and the outbox."""

    def __init__(self, *, database: Database, process: Callable[[int, int], None],
                 pump_outbox: Callable[[], None], threads: int = 2, lease_seconds: int = 60,
                 sweep_every: float = 1.0, max_attempts: int = 5, flood_guard: FloodGuard | None = None):
        self.database = database
        self.process = process
        self.pump_outbox = pump_outbox
        self.lease = timedelta(seconds=lease_seconds)
        self.sweep_every = sweep_every
        self.max_attempts = max_attempts
        self.thread_count = max(1, threads)
        # Fairness: each person's events wait in their own queue; threads take *people* in turn
        # from ``_ready``, one event at a time, so one person's backlog (a flood) delays only
        # them, and one person is never handled by two threads at once (their order holds).
        self._ready: queue.Queue = queue.Queue()
        self._backlog: dict[str, deque] = {}
        self._queued: set[int] = set()
        self.flood_guard = flood_guard or FloodGuard()
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        for index in range(self.thread_count):
            thread = threading.Thread(target=self._run, name=f"event-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        # Restart recovery: whatever an earlier process stored but did not finish is picked up now.
        try:
            self.sweep(min_age=0.0)
        except Exception:
            log.exception("start-up sweep failed")
        sweeper = threading.Thread(target=self._sweep_loop, name="event-sweeper", daemon=True)
        sweeper.start()
        self._threads.append(sweeper)

    def stop(self) -> None:
        self._stop.set()
        for _ in range(self.thread_count):
            self._ready.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    # --- feeding ----------------------------------------------------------------------------
    def submit(self, items: Iterable[tuple[int, str | None]]) -> None:
        for event_id, user_id in items:
            key = user_id or f"#event{event_id}"
            with self._cond:
                if event_id in self._queued:
                    continue  # the sweeper found it pending while it still waits its turn here
                self._queued.add(event_id)
                self._in_flight += 1
                backlog = self._backlog.get(key)
                if backlog is not None:
                    backlog.append(event_id)  # this person is queued or being handled already
                    continue
                self._backlog[key] = deque([event_id])
            self._ready.put(key)

    def _run(self) -> None:
        while True:
            key = self._ready.get()
            if key is None:
                return
            with self._cond:
                event_id = self._backlog[key].popleft()
                self._queued.discard(event_id)
            try:
                self.run_one(event_id)
            finally:
                wait = self.flood_guard.record(key) if not key.startswith("#") else 0.0
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()
                    more = bool(self._backlog[key])
                    if not more:
                        del self._backlog[key]
                if more:
                    if wait and not self._stop.is_set():
                        # A flood: this person's next event waits on a timer, not on a thread.
                        timer = threading.Timer(wait, self._ready.put, args=(key,))
                        timer.daemon = True
                        timer.start()
                    else:
                        self._ready.put(key)  # back of the line: everyone else goes first

    def run_one(self, event_id: int) -> None:
        try:
            claimed = claim_with_payload(self.database, event_id)
            if claimed is None:
                return
            claim_number, payload, received_at = claimed
            self.process(event_id, claim_number, payload=payload, received_at=received_at)
        except Exception:  # the event goes back to pending (or failed) below; never lost
            log.exception("event processing failed", extra={"event_row": event_id})
            self._release(event_id)

    def _release(self, event_id: int) -> None:
        try:
            with self.database.write_session() as session:
                event = session.get(InboundEvent, event_id)
                if event is None or event.status != "processing":
                    return
                event.status = "failed" if event.attempts >= self.max_attempts else "pending"
                event.claimed_at = None
                session.add(event)
        except Exception:
            log.exception("could not release event", extra={"event_row": event_id})

    # --- sweeping ---------------------------------------------------------------------------
    def _sweep_loop(self) -> None:
        while not self._stop.wait(self.sweep_every):
            try:
                self.sweep()
            except Exception:
                log.exception("sweep failed")

    def sweep(self, *, now: datetime | None = None, min_age: float = 2.0) -> None:
        now = now or utc_now()
        with self.database.write_session() as session:
            session.execute(
                sa.update(InboundEvent)
                .where(InboundEvent.status == "processing", InboundEvent.claimed_at < now - self.lease)
                .values(status="pending", claimed_at=None))
        with self.database.session() as session:
            pending = session.exec(
                select(InboundEvent.id, InboundEvent.line_user_id)
                .where(InboundEvent.status == "pending",
                       InboundEvent.received_at <= now - timedelta(seconds=min_age))
                .order_by(InboundEvent.id).limit(500)).all()
        if pending:
            self.submit([(row[0], row[1]) for row in pending])
        self.pump_outbox()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and shutdown: wait until every submitted event has been handled."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._in_flight > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True
