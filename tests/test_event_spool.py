"""The event spool (bot.spool): on SQLite, web processes in worker mode ack into a file of their
own and the worker copies from it, so neither waits for the other's write lock. An event still
takes effect once — across redeliveries before and after the spool is trimmed, a worker that dies
between copying and trimming, and two worker processes copying the same rows — and an ack never
stands for an event that could be lost."""
import json
import sqlite3
import threading

import pytest
from sqlmodel import select

from bot import create_app
from bot.db import Database, upgrade_schema
from bot.devmode import build_event, sign
from bot.events import EventInbox, EventWorker, spool_events
from bot.models import InboundEvent
from bot.spool import EventSpool, spool_path
from tests.conftest import CHANNEL_SECRET, base_config, eventually


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('spool') / 'bot.db'}"
    upgrade_schema(url)
    return url


@pytest.fixture
def database(sqlite_url):
    database = Database(sqlite_url)
    with database.session() as session:
        session.execute(InboundEvent.__table__.delete())
    spool = EventSpool(spool_path(database.file))
    spool.forget(up_to=2**62)
    yield database
    database.dispose()


def _worker(database: Database, processed: list | None = None) -> EventWorker:
    """A worker that records what it processes (the dispatcher's part is tested elsewhere)."""
    def process_fresh(batch, completion=None):
        with database.session() as session:
            for event_id, payload, _received in batch:
                session.execute(InboundEvent.__table__.update().where(InboundEvent.id == event_id)
                             .values(status="done"))
                if processed is not None:
                    processed.append(payload["webhookEventId"])
        return []

    def process(event_id, _claim, *, payload, received_at):  # the careful path (restart sweeps)
        process_fresh([(event_id, payload, received_at)])

    return EventWorker(database=database, process=process, process_fresh=process_fresh,
                       pump_outbox=lambda: None, threads=1, spool=EventSpool(spool_path(database.file)))


def _rows(database: Database) -> list[InboundEvent]:
    with database.session() as session:
        return session.exec(select(InboundEvent).order_by(InboundEvent.id)).all()


def _events(fake_line, count: int, *, redelivery: bool = False) -> list[dict]:
    events = [build_event(fake_line, user_id=f"U{index:032x}", kind="text", text=f"第{index}則")
              for index in range(count)]
    for event in events:
        event["deliveryContext"] = {"isRedelivery": redelivery}
    return events


def test_copied_once_across_redeliveries_before_and_after_the_spool_is_trimmed(database, fake_line):
    spool = EventSpool(spool_path(database.file))
    events = _events(fake_line, 5)
    assert spool.append(events) == [event["webhookEventId"] for event in events]
    assert spool.append(events[:2]) == []  # a redelivery while still spooled: not stored again
    worker = _worker(database)
    assert worker.copy_from_spool() == 5
    assert worker.copy_from_spool() == 0  # nothing new: one PRAGMA, no query
    rows = _rows(database)
    assert [row.webhook_event_id for row in rows] == [event["webhookEventId"] for event in events]
    assert {row.status for row in rows} == {"pending"}
    worker._forget_copied()
    assert spool.count() == 0
    # LINE redelivers after the spool was trimmed: spooled again, but the copy finds it stored.
    again = [dict(event, deliveryContext={"isRedelivery": True}) for event in events[:3]]
    assert len(spool.append(again)) == 3
    assert worker.copy_from_spool() == 3
    assert len(_rows(database)) == 5


def test_a_lone_surrogate_in_a_signed_body_is_spooled_and_copied(database, fake_line):
    spool = EventSpool(spool_path(database.file))
    [event] = _events(fake_line, 1)
    event["message"]["text"] = json.loads('"\\ud800 半個字"')  # valid JSON, not valid UTF-8
    assert spool.append([event]) == [event["webhookEventId"]]
    assert _worker(database).copy_from_spool() == 1
    assert _rows(database)[0].payload["message"]["text"] == event["message"]["text"]


def test_copies_keep_the_ack_time_and_the_senders(database, fake_line):
    spool = EventSpool(spool_path(database.file))
    events = _events(fake_line, 2)
    spool.append(events)
    acked = {row.event["webhookEventId"]: row.received_at for row in spool.read(after=0)}
    worker = _worker(database)
    worker.copy_from_spool()
    for row in _rows(database):
        assert row.received_at == acked[row.webhook_event_id]  # flood windows count from the ack
        assert row.line_user_id.startswith("U") and row.event_type == "message"


def test_a_worker_that_died_before_trimming_copies_again_without_doubles(database, fake_line):
    spool = EventSpool(spool_path(database.file))
    spool.append(_events(fake_line, 4))
    first = _worker(database)
    first.copy_from_spool()  # copied and committed, then the process dies: nothing trimmed
    processed: list[str] = []
    second = _worker(database, processed)
    second.start()  # restart recovery: the whole spool is copied again, then swept up
    try:
        assert second.wait_idle(10)
    finally:
        second.stop()
    assert len(_rows(database)) == 4
    assert sorted(processed) == sorted(row.webhook_event_id for row in _rows(database))  # each once
    assert {row.status for row in _rows(database)} == {"done"}


def test_two_workers_copying_at_once_store_each_event_once(database, fake_line):
    spool = EventSpool(spool_path(database.file))
    spool.append(_events(fake_line, 200))
    workers = [_worker(database) for _ in range(2)]
    threads = [threading.Thread(target=lambda w=w: [w.copy_from_spool(limit=20) for _ in range(12)])
               for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    rows = _rows(database)
    assert len(rows) == 200 and len({row.webhook_event_id for row in rows}) == 200


def test_a_row_the_database_refuses_is_skipped_and_the_rest_copied(database, fake_line):
    spool = EventSpool(spool_path(database.file))
    good = _events(fake_line, 2)
    spool.append(good[:1])
    with sqlite3.connect(spool.path) as raw:  # a row no web process would write: not an object
        raw.execute("INSERT INTO spooled_events (webhook_event_id, payload, received_at) VALUES ('x', ?, 0)",
                    (json.dumps("not an event"),))
    spool.append(good[1:])
    worker = _worker(database)
    assert worker.copy_from_spool() == 3
    assert [row.webhook_event_id for row in _rows(database)] == [event["webhookEventId"] for event in good]
    assert worker.copy_from_spool() == 0  # and it does not come back on every poll


def test_concurrent_acks_into_the_spool_each_store_once(database, fake_line):
    spool = EventSpool(spool_path(database.file))
    inbox = EventInbox(lambda events: spool_events(spool, events))
    events = _events(fake_line, 40)
    bodies = [[event] for event in events for _ in range(3)]  # each delivered three times at once
    threads = [threading.Thread(target=inbox.store, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert spool.count() == 40
    assert sorted(row.event["webhookEventId"] for row in spool.read(after=0)) == sorted(
        event["webhookEventId"] for event in events)


def test_the_poller_processes_spooled_events_once(database, fake_line):
    spool = EventSpool(spool_path(database.file))
    processed: list[str] = []
    worker = _worker(database, processed)
    runner = threading.Thread(target=worker.run_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    runner.start()
    try:
        events = _events(fake_line, 30)
        for index in range(0, 30, 3):
            spool.append(events[index:index + 3])
            spool.append(events[index:index + 1])  # a redelivery in between
        assert eventually(lambda: len(processed) >= 30)
    finally:
        worker.request_stop()
        runner.join(15)
        worker.stop()
    assert sorted(processed) == sorted(event["webhookEventId"] for event in events)



def test_an_ack_the_spool_cannot_store_is_a_503_and_the_redelivery_is_stored_once(tmp_path, fake_line):
    # The web's only write in worker mode is the spool: when it fails the request must not be
    # acknowledged (LINE redelivers a non-2xx), and the redelivery must go in once.
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    upgrade_schema(url)
    app = create_app({**base_config(url, fake_line), "EVENT_PROCESSING": "worker"})
    runtime = app.extensions["bot"]
    [event] = _events(fake_line, 1)
    body = json.dumps({"destination": "Ux", "events": [event]}).encode()
    headers = {"Content-Type": "application/json", "X-Line-Signature": sign(CHANNEL_SECRET, body)}
    blocker = tmp_path / "bot.db-spool"
    blocker.mkdir()  # a directory where the spool file should be: SQLite cannot open it
    try:
        assert app.test_client().post("/callback", data=body, headers=headers).status_code == 503
        blocker.rmdir()
        redelivered = dict(event, deliveryContext={"isRedelivery": True})
        again = json.dumps({"destination": "Ux", "events": [redelivered]}).encode()
        for _ in range(2):  # and once more: LINE may deliver twice
            assert app.test_client().post("/callback", data=again, headers={
                **headers, "X-Line-Signature": sign(CHANNEL_SECRET, again)}).status_code == 200
        assert runtime.worker.copy_from_spool() == 1
        rows = _rows(runtime.database)
        assert [(row.webhook_event_id, row.is_redelivery) for row in rows] == [(event["webhookEventId"], True)]
    finally:
        runtime.database.dispose()
