"""Inbound webhook events: stored once by webhookEventId, processed off the request thread.

The webhook handler only verifies, parses and inserts (ON CONFLICT DO NOTHING on the event id),
then acks. Processing runs either on threads of the web process (``EVENT_PROCESSING=inline``,
``make run`` and tests) or in its own process (``EVENT_PROCESSING=worker`` in the web process plus
``flask --app bot events run``, the Procfile's ``worker:`` line), which polls for new events, so
acks never share a CPU-bound interpreter (the GIL) with processing. On SQLite in worker mode the
web inserts into the spool instead (bot.spool), and the worker copies it into inbound_events
before each poll, so acks never queue for the worker's write lock either.

Two ways to take an event:

* Fresh events (the payload in hand): one transaction does everything — it flips the event
  pending -> done first (a row lock on PostgreSQL, the write lock on SQLite), then routes, saves
  state and queues the replies. A crash rolls it all back and the event is still pending.
* Events found by the sweeper (older than a few seconds: a failure, a restart, a dead process)
  take the careful path: a claim committed on its own (pending -> processing, attempts+1), then the
  processing transaction ends with a conditional "done" on that claim, so an event that keeps
  killing its process is counted and eventually parked as "failed" instead of looping forever.
"""
from __future__ import annotations

import functools
import json
import logging
import queue
import threading
import time
import zlib
from collections import deque
from datetime import datetime, timedelta
from typing import Callable, Iterable, NamedTuple

import sqlalchemy as sa
from sqlmodel import select

from bot.alarms import Alarms
from bot.db import Database, DriverStatement, bound_columns, insert_ignoring_duplicates, utc_now
from bot.models import InboundEvent
from bot.ratelimit import FloodGuard
from bot.spool import EventSpool

log = logging.getLogger(__name__)


def shard_of(key: str, count: int) -> int:
    """A stable shard for a person (the same in every process, unlike hash())."""
    return zlib.crc32(key.encode("utf-8")) % count


def event_part(event: dict, name: str) -> dict:
    """An object-valued field of an event (``source``, ``follow``, ``deliveryContext``…), or {}
    when absent or not an object: a signed body the SDK accepts may still carry ``"follow": 1``,
    which crashed processing on every retry until the event was parked as failed."""
    part = event.get(name)
    return part if isinstance(part, dict) else {}


def line_id(value, limit: int = 64) -> str | None:
    """``value`` when it is a plausible LINE id (a user, event or message id; a reply token with a
    limit of 200, its column's size), else None. LINE's ids are short printable ASCII; a signed but
    odd body may carry anything, and none of it may reach the database: a huge integer or a
    20,000-character "id" failed the insert and answered 503, so the body was redelivered forever,
    and PostgreSQL text cannot store a NUL (a reply token with one failed the outbox insert)."""
    return value if isinstance(value, str) and 0 < len(value) <= limit and value.isprintable() else None


def event_user_id(event: dict) -> str | None:
    """The sender's LINE user id, or None when absent or not a plausible id (``line_id``)."""
    return line_id(event_part(event, "source").get("userId"))


def _decoded(payload: str | dict | None) -> dict | None:
    if isinstance(payload, str):
        payload = json.loads(payload)
    return payload if isinstance(payload, dict) else None


def queue_key(user_id: str | None, event_id: int) -> str:
    """Whose queue an event joins: the person, or the event alone when it has no sender."""
    return user_id or f"#event{event_id}"


class Queued(NamedTuple):
    """An event waiting for a worker thread. ``payload`` is None when it must be read (and
    claimed) from the database first: the careful path."""

    event_id: int
    user_id: str | None
    payload: dict | None = None
    received_at: datetime | None = None

    @property
    def key(self) -> str:
        return queue_key(self.user_id, self.event_id)


class Completion:
    """Runs ``then`` once, when its owner has closed it and every part it was told to expect
    has finished: the event worker releases a batch's people when the batch's replies, sent in
    the background (``Dispatcher.process_fresh``), have gone out."""

    def __init__(self, then: Callable[[], None]):
        self._then = then
        self._open = 1  # the owner's part: ``close``
        self._lock = threading.Lock()

    def expect(self) -> None:
        with self._lock:
            self._open += 1

    def finished(self) -> None:
        with self._lock:
            self._open -= 1
            done = self._open == 0
        if done:
            self._then()

    close = finished


_STORED_COLUMNS = ("webhook_event_id", "event_type", "line_user_id", "payload", "is_redelivery", "status",
                   "attempts", "received_at")


@functools.cache
def _insert_events(dialect: sa.Dialect) -> DriverStatement:
    statement = insert_ignoring_duplicates(InboundEvent.__table__, dialect.name, ("webhook_event_id",),
                                           ("id", "webhook_event_id"))
    return DriverStatement(statement.values(bound_columns(InboundEvent.__table__, _STORED_COLUMNS)), dialect)


def store_events(database: Database, events: list[dict], *,
                 received_at: list[datetime] | None = None, priority: bool = True) -> list[Queued]:
    """Insert events not seen before; returns the new ones, ready to hand to the worker.
    ``received_at``: when each arrived, if not now (events copied from the spool)."""
    if not events:
        return []
    now = utc_now()
    rows = [{
        "webhook_event_id": event["webhookEventId"],
        "event_type": str(event.get("type", "")).replace("\x00", "")[:40],
        "line_user_id": (event_user_id(event) or None),
        "payload": event,
        "is_redelivery": bool(event_part(event, "deliveryContext").get("isRedelivery")),
        "status": "pending", "attempts": 0, "received_at": received_at[index] if received_at else now,
    } for index, event in enumerate(events)]
    statement = _insert_events(database.engine.dialect)
    parameters = [statement.parameters(row) for row in rows]  # serialised before taking the lock
    inserted = []
    # An ack waits on this: the writers' fast lane (priority; the spool's copy needs none), and
    # the driver's cursor (DriverStatement).
    with database.driver_transaction(priority=priority) as cursor:
        for values in parameters:
            cursor.execute(statement.sql, values)
            found = cursor.fetchone()  # (id, webhook_event_id), or None for a duplicate
            if found:
                inserted.append(found)
    by_id = {row["webhook_event_id"]: row for row in rows}
    return [Queued(event_id, by_id[webhook_id]["line_user_id"], by_id[webhook_id]["payload"],
                   by_id[webhook_id]["received_at"]) for event_id, webhook_id in inserted]


def spool_events(spool: EventSpool, events: list[dict]) -> list[Queued]:
    """The web side of EVENT_PROCESSING=worker on SQLite: into the spool. The worker process
    takes them from there, so there is nothing to hand to this process's worker."""
    spool.append(events)
    return []


class EventInbox:
    """Group commit for webhook acks. Each request queues its events, then takes the inbox
    mutex; whoever holds it stores *everything* queued in one transaction. While one request
    writes, the next ones queue up, and the next holder stores them all at once: the others
    find their events stored when their turn comes and answer at once. One commit (and one turn
    of a SQLite write lock: the spool's, or in inline mode the main database's) serves many acks, yet
    each request answers only after its own events are durable: a 200 never stands for an event
    that could be lost."""

    def __init__(self, write: Callable[[list[dict]], list[Queued]]):
        # store_events on the main database, or the spool's append (bot.spool) on SQLite when a
        # worker process does the processing: nothing to hand to this process's worker then.
        self.write = write
        self._queue: list[_InboxEntry] = []
        self._queue_lock = threading.Lock()
        self._writer = threading.Lock()

    def store(self, events: list[dict]) -> list[Queued]:
        entry = _InboxEntry(events)
        with self._queue_lock:
            self._queue.append(entry)
        with self._writer:
            if not entry.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._write(batch)
        if entry.error is not None:
            raise entry.error
        return entry.stored

    def _write(self, batch: list["_InboxEntry"]) -> None:
        try:
            stored = self.write([event for entry in batch for event in entry.events])
        except Exception as error:
            if len(batch) > 1:
                # One body the database refuses must not fail the others with it: one by one.
                for entry in batch:
                    self._write([entry])
                return
            batch[0].error, batch[0].done = error, True
            return
        by_event_id = {item.payload["webhookEventId"]: item for item in stored if item.payload}
        for entry in batch:
            # Each request gets the events it brought that were new (a duplicate in another
            # request of the same batch was stored once and goes to one of them).
            entry.stored = [by_event_id.pop(event["webhookEventId"]) for event in entry.events
                            if event["webhookEventId"] in by_event_id]
            entry.done = True


class _InboxEntry:
    __slots__ = ("events", "stored", "error", "done")

    def __init__(self, events: list[dict]):
        self.events = events
        self.stored: list[Queued] = []
        self.error: Exception | None = None
        self.done = False


_table = InboundEvent.__table__
# Built once: the poller runs it up to 100 times a second per worker process.
_POLL_PENDING = (sa.select(_table.c.id, _table.c.line_user_id, sa.cast(_table.c.payload, sa.Text),
                           _table.c.received_at)
                 .where(_table.c.id > sa.bindparam("after"), _table.c.status == "pending")
                 .order_by(_table.c.id).limit(sa.bindparam("room", type_=sa.Integer)))


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


class EventWorker:
    """Background processing for one process: a few threads, each owning a share of users so one
    user's events are handled in order, plus a sweeper for leases, restarts and the outbox."""

    def __init__(self, *, database: Database, process: Callable[..., None],
                 pump_outbox: Callable[[], None], process_fresh: Callable[[list], list[int]] | None = None,
                 batch_size: int = 16, threads: int = 2, lease_seconds: int = 60,
                 sweep_every: float = 1.0, max_attempts: int = 5, flood_guard: FloodGuard | None = None,
                 on_idle: Callable[[], None] | None = None, shard: tuple[int, int] = (0, 1),
                 spool: EventSpool | None = None):
        self.database = database
        # On SQLite, web processes of EVENT_PROCESSING=worker spool their events (bot.spool); this
        # process copies them into inbound_events before each poll. What it copied last, and
        # the spool's data_version then (see copy_from_spool).
        self.spool = spool
        self._spool_copied = 0
        self._spool_forgotten = 0
        self._spool_version: tuple[int, int] | None = None
        # (k, n): this process handles the people whose shard_of(...) is k of n, so several
        # worker processes split the work and one person's events still go to one of them.
        self.shard = shard
        self.process = process
        # Fresh events of several people waiting at once go through one transaction
        # (Dispatcher.process_fresh): at most batch_size, one event per person.
        self.process_fresh = process_fresh
        self.batch_size = max(1, batch_size)
        self.pump_outbox = pump_outbox
        self.on_idle = on_idle
        self.lease = timedelta(seconds=lease_seconds)
        self.sweep_every = sweep_every
        self.max_attempts = max_attempts
        self.thread_count = max(1, threads)
        # Fairness: each person's events wait in their own queue; threads take *people* in turn
        # from ``_ready``, one event at a time, so one person's backlog (a flood) delays only
        # them, and one person is never handled by two threads at once (their order holds).
        self._ready: queue.Queue = queue.Queue()
        self._backlog: dict[str, deque[Queued]] = {}
        self._queued: set[int] = set()
        self.flood_guard = flood_guard or FloodGuard()
        self._in_flight = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        # Set by a signal handler (request_stop); run_forever turns it into _stop. A handler
        # must take no lock: it runs between two bytecodes of the main thread, which may hold
        # _stop's own lock at that moment (a second SIGTERM during the first one's set()
        # deadlocked the process for good, found with py-spy on a worker that never exited).
        self._stop_requested = False
        self._threads: list[threading.Thread] = []
        self._high_water = 0  # the poller's last seen event id (worker process)
        self._polling = False  # run_forever polls; the sweeper then leaves newer ids to the poller
        # The poller's own connection, kept between polls, and what it saw last: when the last
        # poll took everything and nothing was committed since, the next one need not look.
        self._poll_connection: sa.Connection | None = None
        self._seen_version: int | None = None
        self._caught_up = False
        # Backpressure: past this many events in hand, the poller and sweeper stop taking more.
        # During a burst the rest wait in the database (already durable) instead of this
        # process decoding and queueing thousands of payloads it cannot process yet.
        self.backlog_limit = 2 * self.thread_count * self.batch_size
        self._alarms = Alarms()

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        self._stop.clear()
        for index in range(self.thread_count):
            thread = threading.Thread(target=self._run, name=f"event-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        # Restart recovery: whatever an earlier process stored but did not finish is picked up now
        # (spooled events too, should the web processes have left worker mode since).
        try:
            if self.spool is not None and self.spool.exists():  # inline apps: no file, no work
                while self.copy_from_spool():
                    pass
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
        self._close_poll_connection()

    def request_stop(self) -> None:
        """Ask ``run_forever`` to return within one poll interval. Safe in a signal handler:
        it only sets a flag (see ``_stop_requested``)."""
        self._stop_requested = True

    def wait_stopped(self, timeout: float) -> bool:
        """True once a stop was requested (waits up to ``timeout`` seconds for one)."""
        return self._stop.wait(timeout)

    def run_forever(self, *, poll_interval: float = 0.01) -> None:
        """The worker process (``flask --app bot events run``): poll for events the web processes
        stored and hand them to the threads. Polling by id is one indexed query; events that
        commit out of id order (concurrent inserts on PostgreSQL) are found by the sweeper."""
        with self.database.engine.connect() as connection:
            latest = connection.execute(sa.select(sa.func.max(InboundEvent.id))).scalar()
        self._high_water = latest or 0  # older pending events: the start-up sweep submits them
        self._polling = True
        if self._stop_requested:  # asked to stop while starting up
            self._stop.set()
            return
        self.start()
        while not self._stop.is_set():
            if self._stop_requested:
                self._stop.set()  # in the main thread, outside any handler
                break
            try:
                found = self.poll()
            except Exception:
                log.exception("event poll failed")
                found = 0
                self._stop.wait(1.0)
            if not found:
                self._stop.wait(poll_interval)
        self.wait_idle(timeout=10)  # finish what was taken; the rest stays pending for others

    def poll(self, *, limit: int = 200) -> int:
        """Submit pending events stored since the last poll; returns how many."""
        if self.spool is not None:
            self.copy_from_spool()
        room = min(limit, self.backlog_limit - self._in_flight)
        if room <= 0:
            self._caught_up = False
            return 0  # busy: they stay pending in the database until there is room
        if self._caught_up and not self._database_changed():
            return 0
        connection = self._poll_connection
        if connection is None:
            connection = self._poll_connection = self.database.engine.connect()
        try:
            version = self._data_version(connection)
            rows = connection.execute(_POLL_PENDING, {"after": self._high_water, "room": room}).all()
            connection.rollback()  # end the read: an open transaction would pin its WAL snapshot
        except Exception:
            self._close_poll_connection()  # a broken connection is replaced on the next poll
            raise
        self._seen_version = version
        self._caught_up = len(rows) < room
        if rows:
            self._high_water = rows[-1][0]
            self.submit(Queued(row[0], row[1], _decoded(row[2]), row[3])
                        for row in rows if self._is_mine(queue_key(row[1], row[0])))
        return len(rows)

    def copy_from_spool(self, *, limit: int = 500) -> int:
        """Copy spooled events past the last copied one into inbound_events, in one transaction
        (duplicates ignored: what another worker process or an earlier run copied already);
        returns how many were read. Each keeps the time its ack stored it."""
        version = self.spool.version()
        if version == self._spool_version:
            return 0  # nothing was spooled (nor forgotten) since the last look
        spooled = self.spool.read(after=self._spool_copied, limit=limit)
        if len(spooled) < limit:
            self._spool_version = version  # read everything there was at that version
        if not spooled:
            return 0
        try:
            store_events(self.database, [row.event for row in spooled],
                         received_at=[row.received_at for row in spooled], priority=False)
        except Exception:
            # One at a time, so one row the database refuses does not hold up the others; if
            # none goes in, the database itself is failing: raise, and the next poll tries again.
            refused = []
            for row in spooled:
                try:
                    store_events(self.database, [row.event], received_at=[row.received_at], priority=False)
                except Exception as error:
                    refused.append((row, error))
            if len(refused) == len(spooled):
                raise
            for row, error in refused:
                log.error("spooled event refused by the database; skipped", exc_info=error,
                          extra={"spool_seq": row.seq})
        self._spool_copied = spooled[-1].seq
        return len(spooled)

    def _forget_copied(self) -> None:
        """Trim the spool of what has been copied (the sweeper, once a second): it stays small."""
        copied = self._spool_copied
        if self.spool is not None and copied > self._spool_forgotten:
            self.spool.forget(up_to=copied)
            self._spool_forgotten = copied

    def _database_changed(self) -> bool:
        """Whether another connection committed since the last poll. On SQLite, PRAGMA
        data_version answers that without a query plan (microseconds): the poller runs 100 times a
        second per process, and a full poll each time kept an idle worker at 13 % of a core. On
        PostgreSQL there is no such counter: every poll looks."""
        connection = self._poll_connection
        if connection is None or not self.database.is_sqlite:
            return True
        return self._data_version(connection) != self._seen_version

    def _data_version(self, connection: sa.Connection) -> int | None:
        if not self.database.is_sqlite:
            return None
        # On the driver's connection, outside any transaction (autocommit, see make_engine).
        return connection.connection.driver_connection.execute("PRAGMA data_version").fetchone()[0]

    def _close_poll_connection(self) -> None:
        connection, self._poll_connection = self._poll_connection, None
        self._caught_up = False
        if connection is not None:
            try:
                connection.close()
            except Exception:
                log.warning("could not close the poll connection", exc_info=True)

    def _is_mine(self, key: str) -> bool:
        index, count = self.shard
        return count == 1 or shard_of(key, count) == index

    # --- feeding ----------------------------------------------------------------------------
    def submit(self, items: Iterable[Queued]) -> None:
        for item in items:
            key = item.key
            if not self._is_mine(key):
                continue  # another worker process's share of the people
            with self._cond:
                if item.event_id in self._queued:
                    continue  # the sweeper found it pending while it still waits its turn here
                self._queued.add(item.event_id)
                self._in_flight += 1
                backlog = self._backlog.get(key)
                if backlog is not None:
                    backlog.append(item)  # this person is queued or being handled already
                    continue
                self._backlog[key] = deque([item])
            self._ready.put(key)

    def _run(self) -> None:
        while True:
            key = self._ready.get()
            if key is None:
                return
            keys = [key]
            while len(keys) < self.batch_size:  # whoever else is waiting right now joins in
                try:
                    more = self._ready.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._ready.put(None)  # a stop: leave it for this loop's next turn
                    break
                keys.append(more)
            with self._cond:
                items = [self._backlog[key].popleft() for key in keys]
                for item in items:
                    self._queued.discard(item.event_id)
            try:
                fresh = [item for item in items if item.payload is not None]
                if self.process_fresh is not None and fresh:
                    # These people are released when their replies have gone out, not here: this
                    # thread goes on with the next batch meanwhile (Completion).
                    items = [item for item in items if item.payload is None]
                    keys = [item.key for item in items]
                    self._run_fresh(fresh)
                for item in items:
                    self.run_one(item)
            finally:
                for key in keys:
                    self._done_with(key)

    def _run_fresh(self, items: list[Queued]) -> None:
        completion = Completion(functools.partial(self._done_with_all, [item.key for item in items]))
        try:
            failed = self.process_fresh([(item.event_id, item.payload, item.received_at) for item in items],
                                        completion=completion)
        except Exception:  # the whole transaction rolled back: every event is still pending
            log.exception("event batch failed", extra={"events": len(items)})
            failed = [item.event_id for item in items]
        try:
            for event_id in failed:  # counted before their people can be taken again
                self._release(event_id, fresh=True)
        finally:
            completion.close()

    def _done_with_all(self, keys: list[str]) -> None:
        for key in keys:
            self._done_with(key)

    def _done_with(self, key: str) -> None:
        wait = self.flood_guard.record(key) if not key.startswith("#") else 0.0
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()
            more = bool(self._backlog[key])
            if not more:
                del self._backlog[key]
        if more:
            if wait and not self._stop.is_set():
                # A flood: this person's next event waits on an alarm, not on a thread.
                self._alarms.schedule(wait, self._ready.put, item=key)
            else:
                self._ready.put(key)  # back of the line: everyone else goes first

    def run_one(self, item: Queued) -> None:
        event_id = item.event_id
        try:
            if item.payload is not None:
                # Fresh: claimed inside the processing transaction (see the module docstring).
                self.process(event_id, None, payload=item.payload, received_at=item.received_at)
                return
            claimed = claim_with_payload(self.database, event_id)
            if claimed is None:
                return
            claim_number, payload, received_at = claimed
            self.process(event_id, claim_number, payload=payload, received_at=received_at)
        except Exception:  # the event goes back to pending (or failed) below; never lost
            log.exception("event processing failed", extra={"event_row": event_id})
            self._release(event_id, fresh=item.payload is not None)

    def _release(self, event_id: int, *, fresh: bool = False) -> None:
        """After a failure: count the attempt; past max_attempts the event is parked as failed.
        A fresh event's transaction rolled back, so it is still pending (the sweeper retries it
        on the careful path); a claimed one goes back from processing."""
        table = InboundEvent.__table__
        try:
            with self.database.write_session() as session:
                attempts = table.c.attempts + (1 if fresh else 0)
                session.execute(
                    sa.update(table)
                    .where(table.c.id == event_id, table.c.status == ("pending" if fresh else "processing"))
                    .values(attempts=attempts, claimed_at=None,
                            status=sa.case((attempts >= self.max_attempts, "failed"), else_="pending")))
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
        room = self.backlog_limit - self._in_flight
        pending = []
        if room > 0:
            query = (select(InboundEvent.id, InboundEvent.line_user_id)
                     .where(InboundEvent.status == "pending",
                            InboundEvent.received_at <= now - timedelta(seconds=min_age))
                     .order_by(InboundEvent.id).limit(room))
            if self._polling:  # newer ones are the poller's, to take fresh (one transaction)
                query = query.where(InboundEvent.id <= self._high_water)
            with self.database.session() as session:
                pending = session.exec(query).all()
        if pending:
            self.submit(Queued(row[0], row[1]) for row in pending)  # careful path
        self._forget_copied()
        self.pump_outbox()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """For tests and shutdown: wait until every submitted event has been handled (and the
        outbox has recorded what it sent)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._in_flight > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        if self.on_idle:
            self.on_idle()
        return True
