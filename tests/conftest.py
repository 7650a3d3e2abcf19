"""Shared fixtures: a real fake-LINE HTTP server, a real database (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set), the app served over real HTTP, and a chat driver.

The line-bot-sdk is never mocked: the bot's gateway talks HTTP to ``FakeLine`` exactly as it
would to api.line.me."""
from __future__ import annotations

import os
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select
from werkzeug.serving import make_server

from bot import create_app
from bot.db import Database, import_all_models, upgrade_schema, utc_now
from bot.spool import EventSpool, spool_path
from bot.devmode import build_event, post_webhook
from bot.devmode.fake_line import FakeLine, create_fake_line_app, message_text

REPO = Path(__file__).resolve().parent.parent
# The repository's own copies: seeds in programs/documents, eval sets and LINE fixtures in
# tests/fixtures (a bare clone has nothing beside it).
SEEDS = REPO / "programs" / "documents"
EVAL = REPO / "tests" / "fixtures" / "eval"
LINE_FIXTURES = REPO / "tests" / "fixtures" / "line-fixtures"
CHANNEL_SECRET = "test-channel-secret"
ACCESS_TOKEN = "test-access-token"
STAFF_TOKEN = "test-staff-token"
SECRET_KEY = "test-secret-key-of-the-suite"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_environment(database_url: str, fake_line: FakeLine) -> dict:
    """Environment for running the real commands (`python -m bot.serve`, `flask … events run`) in a
    subprocess against the test database and the fake Messaging API."""
    return {**os.environ, "DATABASE_URL": database_url, "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN, "LINE_API_BASE_URL": fake_line.url,
            "LINE_DATA_API_BASE_URL": fake_line.url, "BOT_ENV": "production", "LOG_LEVEL": "WARNING",
            "SECRET_KEY": SECRET_KEY,
            "PROGRAMS_FILE": str(REPO / "programs" / "programs.yaml"), "EVENT_WORKER_NICE": "0"}


def wait_healthy(base: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError("web process did not come up")


class ServerThread:
    def __init__(self, app, host: str = "127.0.0.1"):
        self.server = make_server(host, 0, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture(scope="session")
def fake_line():
    fake = FakeLine(access_token=ACCESS_TOKEN)
    server = ServerThread(create_fake_line_app(fake))
    fake.url = server.url
    yield fake
    server.stop()


def postgres_test_url() -> str | None:
    """TEST_DATABASE_URL, or — under pytest-xdist (`make test` runs a worker per core) — a database
    of this worker's own beside it, created on first use: workers must not reset each other's
    schema or truncate each other's tables."""
    url = os.environ.get("TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parsed = sa.engine.make_url(url)
    name = f"{parsed.database}_{worker}"
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if connection.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).first() is None:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = postgres_test_url()
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        _reset_postgres(url)
    upgrade_schema(url)
    return url


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    engine.dispose()


def base_config(database_url: str, fake_line: FakeLine, **extra) -> dict:
    return {
        "IGNORE_ENVIRONMENT": True, "TESTING": True, "BOT_ENV": "development",
        "DATABASE_URL": database_url, "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN, "LINE_API_BASE_URL": fake_line.url,
        "LINE_DATA_API_BASE_URL": fake_line.url, "STAFF_API_TOKEN": STAFF_TOKEN, "SECRET_KEY": SECRET_KEY,
        "PUBLIC_BASE_URL": "http://127.0.0.1:9", "SCHEDULER_ENABLED": False,
        "PROGRAMS_FILE": str(REPO / "programs" / "programs.yaml"),
        "KNOWLEDGE_DIR": str(REPO / "knowledge" / "entries"), "SEEDS_DIR": str(SEEDS),
        "LINE_HTTP_TIMEOUT": 2, "RETRY_BASE_DELAY": 0.05, "LOG_LEVEL": "WARNING",
        **extra,
    }


@pytest.fixture(scope="session")
def app(database_url, fake_line):
    application = create_app(base_config(database_url, fake_line))
    application.extensions["bot"].start_background()
    yield application
    application.extensions["bot"].stop_background()


@pytest.fixture(scope="session")
def live_server(app):
    server = ServerThread(app)
    app.config["PUBLIC_BASE_URL"] = server.url
    yield server
    server.stop()


def truncate_all(database: Database) -> None:
    import_all_models()
    existing = set(sa.inspect(database.engine).get_table_names())
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables) if t.name in existing]
    with database.engine.begin() as connection:
        if database.is_postgres:
            connection.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        else:
            for table in tables:
                connection.exec_driver_sql(f"DELETE FROM {table}")
    spool = EventSpool(spool_path(database.file)) if database.file else None
    if spool is not None and spool.exists():  # and what web processes in worker mode spooled
        spool.forget(up_to=2**62)


@pytest.fixture(autouse=True)
def clean_state(request):
    """End-to-end tests share one app: empty the tables and the fake's records before each."""
    if "app" in request.fixturenames:
        runtime = request.getfixturevalue("app").extensions["bot"]
        runtime.worker.wait_idle(5)
        truncate_all(runtime.database)
        request.getfixturevalue("fake_line").reset()
    yield


@pytest.fixture
def db_session(database_url):
    """A session inside a transaction rolled back after the test (service-level tests)."""
    database = Database(database_url)
    connection = database.engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()
    transaction.rollback()
    connection.close()
    database.dispose()


class Chat:
    """Drives the bot the way LINE does: signed webhooks over HTTP, replies read from FakeLine."""

    def __init__(self, app, server: ServerThread, fake: FakeLine, user_id: str = "U" + "a" * 32):
        self.app = app
        self.server = server
        self.fake = fake
        self.user_id = user_id
        self.runtime = app.extensions["bot"]
        self._seen = 0

    def as_user(self, user_id: str) -> "Chat":
        return Chat(self.app, self.server, self.fake, user_id)

    def post(self, events: list[dict]) -> requests.Response:
        return post_webhook(self.server.url, CHANNEL_SECRET, events)

    def _exchange(self, event: dict) -> list[dict]:
        before = len(self.fake.messages_for(self.user_id))
        response = self.post([event])
        assert response.status_code == 200, response.text
        assert self.runtime.worker.wait_idle(10), "event processing did not finish"
        self.settle_outbox()
        messages = self.fake.messages_for(self.user_id)
        self.last = messages[before:]
        self.check_plain_words()
        return self.last

    def check_plain_words(self) -> None:
        """Every message sent so far to a person without a role (an owner) reads as plain words:
        no programme ids, section codes, hashes, commands, field names or raw links (issue 19).
        Staff and advisors (a role on record when checked) may read such things; in announcements
        (multicast) the links are the ones staff chose to send, not the bot's internals."""
        from bot.models import RoleGrant
        from tests.internals import internal_codes, official_links, readable_parts

        with self.fake.lock:
            records = list(self.fake.records)
        checked = getattr(self.fake, "plain_words_checked", 0)
        checked = checked if checked <= len(records) else 0  # the fake was reset for a new test
        self.fake.plain_words_checked = len(records)
        fresh = records[checked:]
        people = {uid for record in fresh for uid in record["to"]}
        if not people:
            return
        with self.runtime.database.session() as session:
            team = set(session.exec(select(RoleGrant.line_user_id).where(RoleGrant.line_user_id.in_(people))).all())
        own = (self.app.config["PUBLIC_BASE_URL"], *official_links())
        problems = [f"{uid}: {found} in {part!r}"
                    for record in fresh for uid in record["to"] if uid not in team
                    for message in record["messages"] for part in readable_parts(message)
                    for found in internal_codes(part, own_links=own)
                    if not (record["kind"] == "multicast" and found.startswith("raw link"))]
        assert not problems, "an owner was shown internals:\n" + "\n".join(problems[:10])

    def settle_outbox(self, timeout: float = 10.0) -> None:
        """Wait until nothing due for this user is still queued (a pump may be sending it)."""
        from bot.models import OutboundMessage

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.runtime.database.session() as session:
                open_rows = session.exec(select(OutboundMessage.id).where(
                    OutboundMessage.recipient == self.user_id,
                    OutboundMessage.status.in_(("pending", "sending")),
                    OutboundMessage.next_attempt_at <= utc_now() + timedelta(seconds=1))).first()
            if open_rows is None:
                return
            self.runtime.sender.deliver_due()
            time.sleep(0.02)

    def event(self, kind: str, **kwargs) -> dict:
        return build_event(self.fake, user_id=self.user_id, kind=kind, **kwargs)

    def say(self, text: str) -> list[str]:
        return self.send("text", text=text)

    def send(self, kind: str, **kwargs) -> list[str]:
        return self.send_event(self.event(kind, **kwargs))

    def send_event(self, event: dict) -> list[str]:
        """Deliver an event built (and perhaps altered) by the test; the texts answered."""
        return [message_text(m) for m in self._exchange(event)]

    def follow(self, unblocked: bool = False) -> list[str]:
        self.fake.followers.add(self.user_id)
        return self.send("follow", unblocked=unblocked)

    def unfollow(self) -> list[str]:
        self.fake.followers.discard(self.user_id)
        return self.send("unfollow")

    def actions(self) -> list[dict]:
        """Quick reply and button actions of the last exchange."""
        found = []
        for message in getattr(self, "last", []):
            found += [item["action"] for item in (message.get("quickReply") or {}).get("items", [])]
            found += _button_actions(message.get("contents", {}))
        return found

    def labels(self) -> list[str]:
        return [a.get("label", "") for a in self.actions()]

    def tap(self, label: str, *, value: str | None = None) -> list[str]:
        """Tap the quick reply / button whose label contains ``label``."""
        for action in self.actions():
            if label in action.get("label", ""):
                return self.tap_action(action, value=value)
        raise AssertionError(f"no button {label!r} among {self.labels()}")

    def tap_action(self, action: dict, *, value: str | None = None) -> list[str]:
        if action["type"] == "message":
            return self.say(action["text"])
        if action["type"] == "postback":
            return self.send("postback", data=action["data"])
        if action["type"] == "datetimepicker":
            return self.send("postback", data=action["data"], params={action["mode"]: value})
        raise AssertionError(f"cannot tap {action}")


def _button_actions(node) -> list[dict]:
    if isinstance(node, dict):
        found = [node["action"]] if node.get("type") == "button" else []
        for key in ("header", "hero", "body", "footer"):
            if key in node:
                found += _button_actions(node[key])
        if isinstance(node.get("contents"), list):
            for child in node["contents"]:
                found += _button_actions(child)
        return found
    return []


@pytest.fixture
def chat(app, live_server, fake_line) -> Chat:
    return Chat(app, live_server, fake_line)


def eventually(predicate, timeout: float = 10.0) -> bool:
    """Poll until ``predicate()`` holds (for effects that land after the reply, e.g. pushes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def joined(texts: list[str]) -> str:
    return "\n".join(texts)
