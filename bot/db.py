"""Database engine, sessions and schema migrations (Alembic) for SQLite and PostgreSQL."""
from __future__ import annotations

import fcntl
import functools
import importlib
import os
import threading
from collections import deque
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.config import REPO_ROOT

# Top-level domain packages whose ``models.py`` define tables. Discovered rather than listed so a
# new domain only has to add its own models module (and its Alembic branch).
DOMAIN_PACKAGES = ("bot", "companies", "dialogs", "eligibility", "knowledge", "scheduler", "letters",
                   "visits", "broadcasts", "staff", "privacy", "adoption", "replacements", "activities", "assessments",
                   "checkup", "kpis")


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware datetimes on both backends: stored as naive UTC, returned as aware UTC.

    SQLite has no timezone type; normalising here keeps comparisons identical on PostgreSQL.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def import_all_models() -> None:
    """Import every ``<domain>.models`` module so SQLModel.metadata knows all tables."""
    for package in DOMAIN_PACKAGES:
        if not (REPO_ROOT / package / "models.py").exists():
            continue
        importlib.import_module(f"{package}.models")


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run during a write; busy_timeout makes concurrent writers (two web
    # workers, the event worker threads) wait instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Deleted and overwritten content is zeroed, not left in free pages: an erasure (privacy)
    # must not leave the person's phone or e-mail readable in the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10},
                                  pool_size=10, max_overflow=20)
        event.listen(engine, "connect", _configure_sqlite)
        # pysqlite's own transaction handling defers BEGIN; issue BEGIN IMMEDIATE ourselves for
        # write transactions via ``write_session`` so lock waits happen up front, not mid-way.
        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection, _record):
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL (None for an in-memory database): its lock files sit
    next to it."""
    path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
    if not path or path == ":memory:" or "mode=memory" in path:
        return None
    return path.split("?", 1)[0]


class WriterGate:
    """SQLite's one-writer rule, as a re-entrant lock with a fast lane for webhook acks.

    Webhook acks (``priority=True``) go before event processing and scheduled work: LINE wants
    the 200 within seconds, while processing can wait its turn without anyone noticing. Inside a
    process that is a condition variable; across processes (web processes, the event worker,
    the scheduler) writers queue on an flock of ``<db>-writer.lock``, and a process with acks in
    flight holds a shared flock of ``<db>-acks.lock`` that other writers wait out (an exclusive
    flock, taken and dropped) before queuing for the write lock. Without that, a busy worker
    process took the write lock between two acks every time, and at its lower CPU priority
    (EVENT_WORKER_NICE) it could hold it long enough to halve the ack rate."""

    def __init__(self, database_file: str | None = None):
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._priority_waiting = 0
        # Other writers take turns in arrival order. Without turns, a thread that released the
        # lock took it straight back (it still held the GIL when the others were notified): one
        # event worker thread wrote batch after batch while the other's batch waited up to 8 s
        # (make bench, e2e).
        self._turns: deque[object] = deque()
        # The kernel wakes the next writer the moment the lock is free, where SQLite's own busy
        # handler sleeps in steps of up to 100 ms. "acks" and "yield" open the same file
        # separately: flocks on two open files conflict even within one process, so an inline
        # worker thread also waits out its own process's acks.
        self._paths = {"writer": f"{database_file}-writer.lock", "acks": f"{database_file}-acks.lock",
                       "yield": f"{database_file}-acks.lock"} if database_file else {}
        self._files: dict[str, Any] = {}
        self._files_pid: int | None = None
        self._acks_mutex = threading.Lock()
        self._acks_in_flight = 0
        self._owner_is_ack = False

    def acquire(self, *, priority: bool = False) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
        if priority:
            self._announce_ack()
        else:
            self._wait_out_acks()
        try:
            with self._cond:
                if priority:
                    self._priority_waiting += 1
                else:
                    turn = object()
                    self._turns.append(turn)
                try:
                    while self._owner is not None or (not priority and (
                            self._priority_waiting or self._turns[0] is not turn)):
                        self._cond.wait()
                finally:
                    if priority:
                        self._priority_waiting -= 1
                    else:
                        self._turns.remove(turn)
                self._owner, self._depth, self._owner_is_ack = me, 1, priority
        except BaseException:
            if priority:
                self._ack_done()
            raise
        try:
            self._flock("writer", fcntl.LOCK_EX)
        except BaseException:
            self.release(unlock=False)
            raise

    def release(self, *, unlock: bool = True) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth > 0:
                return
            if unlock:
                self._flock("writer", fcntl.LOCK_UN)
            was_ack, self._owner, self._owner_is_ack = self._owner_is_ack, None, False
            self._cond.notify_all()
        if was_ack:
            self._ack_done()

    def _announce_ack(self) -> None:
        with self._acks_mutex:
            self._acks_in_flight += 1
            if self._acks_in_flight == 1:
                self._flock("acks", fcntl.LOCK_SH)

    def _ack_done(self) -> None:
        with self._acks_mutex:
            self._acks_in_flight -= 1
            if self._acks_in_flight == 0:
                self._flock("acks", fcntl.LOCK_UN)

    def acks_waiting(self) -> bool:
        """Whether a webhook ack, in this process or another, is waiting for the write lock (or
        writing) right now: the holder of a long write transaction commits early to let it
        through. A non-blocking flock: a couple of microseconds."""
        return bool(self._priority_waiting) or not self._no_acks_in_flight(wait=False)

    def _wait_out_acks(self) -> None:
        """Block while any process has acks in flight (their shared lock), then go on."""
        self._no_acks_in_flight(wait=True)

    def _no_acks_in_flight(self, *, wait: bool) -> bool:
        """Take and drop an exclusive flock on the acks file: it succeeds only while no process
        holds its shared one. ``wait``: block until then; otherwise answer at once."""
        if not self._paths:
            return True  # in-memory database: one process, the condition variable is enough
        handle = self._handle("yield")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True

    def _flock(self, which: str, operation: int) -> None:
        if not self._paths:
            return  # in-memory database: one process, the condition variable is enough
        fcntl.flock(self._handle(which), operation)

    def _handle(self, which: str):
        if self._files_pid != os.getpid():  # opened after a fork: locks belong to the parent's files
            self._files, self._files_pid = {}, os.getpid()
        handle = self._files.get(which)
        if handle is None:
            handle = self._files[which] = open(self._paths[which], "a+b")  # noqa: SIM115 - held for the process
        return handle


class Database:
    """One per app: the engine plus session helpers."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        # SQLite allows one writer at a time. Threads of this process queue on this lock instead
        # of SQLite's busy handler, which sleeps in coarse steps (up to 100 ms) and wrecks latency.
        self._sqlite_writer = WriterGate(self.file) if self.is_sqlite else None
        self._local = threading.local()  # how many write transactions this thread has open

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def file(self) -> str | None:
        """The SQLite database file (None for an in-memory database, or PostgreSQL)."""
        return sqlite_file(self.url) if self.is_sqlite else None

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error.

        On SQLite a top-level unit of work is a write transaction (BEGIN IMMEDIATE, queued on the
        process lock): a deferred transaction that reads and then writes fails at once with
        "database is locked" when another connection committed in between (WAL snapshot), and
        the busy timeout cannot help it. Inside an open write transaction of this thread, a nested
        session is a plain deferred one (reads only; WAL lets it read while the outer one writes)."""
        if self._sqlite_writer is not None and not getattr(self._local, "depth", 0):
            with self.write_session() as session:
                yield session
            return
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only unit of work, rolled back at the end. On SQLite a deferred transaction (one
        WAL snapshot) that never takes the write lock: for long reads such as an export, which
        through ``session()`` would hold back every webhook ack while it renders."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
            finally:
                session.rollback()

    def acks_waiting(self) -> bool:
        """On SQLite: whether a webhook ack waits for the one write lock (see WriterGate). A
        long write transaction checks this between units of work and commits early. Elsewhere
        writers do not queue behind each other: always False."""
        return self._sqlite_writer is not None and self._sqlite_writer.acks_waiting()

    @contextmanager
    def _writer_turn(self, *, priority: bool) -> Iterator[None]:
        """On SQLite: this thread's turn on the writer lock (in-process gate + cross-process flock),
        counted so a nested ``session()`` knows a write transaction is open. Elsewhere: nothing."""
        if self._sqlite_writer is None:
            yield
            return
        self._sqlite_writer.acquire(priority=priority)
        self._local.depth = getattr(self._local, "depth", 0) + 1
        try:
            yield
        finally:
            self._local.depth -= 1
            self._sqlite_writer.release()

    @contextmanager
    def write_session(self, *, priority: bool = False) -> Iterator[Session]:
        """Like ``session`` but takes SQLite's write lock at BEGIN (avoids lock upgrades failing).
        ``priority``: go before other writers (webhook acks; see ``WriterGate``)."""
        with self._writer_turn(priority=priority), self._write_session() as session:
            yield session

    @contextmanager
    def write_connection(self, *, priority: bool = False) -> Iterator[sa.Connection]:
        """A Core connection in a write transaction: for hot paths made of a few prebuilt
        statements, without the ORM session's bookkeeping (the outbox's batched "sent" marks)."""
        with self._writer_turn(priority=priority), self.engine.connect() as connection:
            connection.info["write"] = True
            try:
                with connection.begin():
                    yield connection
            finally:
                connection.info.pop("write", None)

    @contextmanager
    def driver_transaction(self, *, priority: bool = False) -> Iterator[Any]:
        """A write transaction on the driver's own connection, yielding its cursor: for the one
        statement of a webhook ack (see ``DriverStatement``). SQLAlchemy's per-statement
        bookkeeping (execution context, events, result wrapping) cost twice the database work
        there, and on SQLite all of it ran while holding the one writer lock every process queues
        on. Commits on success, rolls back on error."""
        with self._writer_turn(priority=priority):
            connection = self.engine.raw_connection()  # pooled: connect-time PRAGMAs applied
            try:
                cursor = connection.cursor()
                if self.is_sqlite:
                    cursor.execute("BEGIN IMMEDIATE")  # autocommit driver (see make_engine)
                yield cursor
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                connection.close()

    @contextmanager
    def _write_session(self) -> Iterator[Session]:
        with self.engine.connect() as connection:
            connection.info["write"] = True
            try:
                with Session(bind=connection, expire_on_commit=False) as session:
                    try:
                        yield session
                        session.commit()
                    except BaseException:
                        session.rollback()
                        raise
            finally:
                connection.info.pop("write", None)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            return False

    def truncate_wal(self) -> bool:
        """SQLite: checkpoint the write-ahead log into the database and truncate it to zero bytes,
        so earlier versions of rows (a person just erased) no longer sit in the -wal file; the
        database's freed pages are zeroed by secure_delete. True when done (always elsewhere)."""
        if not self.file:
            return True
        with self.engine.connect() as connection:
            busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]
        return not busy

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_schema(url: str) -> list[str]:
    """Apply every Alembic head (each domain has its own branch). Safe to repeat."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = alembic_config(url)
    command.upgrade(config, "heads")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            heads = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    return sorted(heads)


@functools.cache
def insert_ignoring_duplicates(table: sa.Table, dialect_name: str, keys: tuple[str, ...],
                               returning: tuple[str, ...] = ()) -> sa.Insert:
    """INSERT … ON CONFLICT (keys) DO NOTHING [RETURNING …] for the connection's dialect, built
    once per shape: concurrent writers (two schedulers, a redelivered event, a first message
    racing a follow) leave an existing row alone instead of failing."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def bound_columns(table: sa.Table, columns: tuple[str, ...]) -> dict[str, sa.BindParameter]:
    """``insert(table).values(bound_columns(...))``: an INSERT of these columns, each a bind
    parameter of its own name and column type, so a ``DriverStatement`` of it applies the
    column's bind processor (JSON, UTC datetimes, booleans)."""
    return {name: sa.bindparam(name, type_=table.c[name].type) for name in columns}


class DriverStatement:
    """A Core statement compiled once for the DBAPI driver, with each parameter's own bind
    processor (JSON, UTC datetimes, booleans), so a hot path can run it on a raw cursor
    (``Database.driver_transaction``, ``execute_on_driver``) and still store and match exactly
    what SQLAlchemy would. The literal values the statement carries (``status == "pending"``, a
    LIMIT) are the parameters' defaults."""

    def __init__(self, statement: sa.Executable, dialect: sa.Dialect):
        compiled = statement.compile(dialect=dialect)
        if "__[POSTCOMPILE_" in compiled.string:
            # Literal-only parts (aggregate_strings' separator) are rendered once; that needs a
            # value for every parameter at compile time, the real ones come at run time.
            compiled = statement.params(compiled.params).compile(dialect=dialect,
                                                                 compile_kwargs={"render_postcompile": True})
        self.sql = compiled.string
        self._positions = compiled.positiontup  # qmark/format drivers (sqlite3); None if named
        binds = {compiled.bind_names[bind]: bind for bind in compiled.binds.values()}
        self._defaults = {name: bind.effective_value for name, bind in binds.items()}
        self._processors = [(name, process) for name, bind in binds.items()
                            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect))]

    def parameters(self, row: dict) -> tuple | dict:
        values = {**self._defaults, **row}
        for name, process in self._processors:
            values[name] = process(values[name])
        return tuple(values[name] for name in self._positions) if self._positions else values


_prepared_for_driver: dict[tuple, DriverStatement] = {}


def execute_on_driver(session: Session, statement: sa.Executable, values: dict) -> Any:
    """Run a prebuilt Core statement in the session's transaction on the driver's own cursor,
    which it returns (fetch rows or read ``rowcount`` from it). For the event hot path: each
    statement through SQLAlchemy costs ~0.1 ms of bookkeeping (execution context, events, result
    wrapping) around the database's few microseconds, and the event worker is CPU-bound at
    200 events/s (make bench, e2e). Only for statements whose results need no type processing
    (ids, counts, strings) and which no ORM object in the session depends on."""
    connection = session.connection()
    dialect = connection.dialect
    key = (statement, dialect.name, dialect.driver)
    prepared = _prepared_for_driver.get(key)
    if prepared is None:
        prepared = _prepared_for_driver.setdefault(key, DriverStatement(statement, dialect))
    cursor = connection.connection.driver_connection.cursor()
    cursor.execute(prepared.sql, prepared.parameters(values))
    return cursor


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
