"""The Procfile's split: web processes only store and ack (EVENT_PROCESSING=worker), the worker
process (`flask --app bot events run`, several processes) handles every event once and each
person's events in order. Plus the pieces that keep the hot path cheap: group-committed acks,
batched "sent" marks, one alarm thread for the loading animation."""
import concurrent.futures
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time

import sqlalchemy as sa
from sqlmodel import select

from bot import create_app
from bot.db import Database
from bot.devmode import build_event, post_webhook, sign
from bot.alarms import Alarms
from bot.events import EventInbox, EventWorker, Queued, event_user_id, shard_of, store_events
from bot.models import InboundEvent, OutboundMessage
from tests.conftest import CHANNEL_SECRET, REPO, base_config, free_port, production_environment, wait_healthy


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_web_acks_and_two_worker_processes_answer_each_event_once_in_order(app, fake_line, database_url):
    # The session's in-test app would otherwise sweep up these events itself (after 2 s): pause
    # it, so every answer below comes from the worker processes.
    runtime = app.extensions["bot"]
    runtime.stop_background()
    env = production_environment(database_url, fake_line)
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "bot.serve", "--processes", "2", "--threads", "4", "--host", "127.0.0.1",
         "--port", str(port)], cwd=REPO,
        env={**env, "EVENT_PROCESSING": "worker"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    worker = None
    try:
        wait_healthy(base)
        users = [f"U{index:032x}" for index in range(12)]
        first = [build_event(fake_line, user_id=user, kind="text", text="數位小測驗") for user in users]
        assert {post_webhook(base, CHANNEL_SECRET, [event]).status_code for event in first} == {200}
        time.sleep(1.0)
        # Stored and acknowledged, but nobody in the web processes answers them.
        assert not any(fake_line.texts_for(user) for user in users)

        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "bot", "events", "run", "--processes", "2"],
                                  cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # (generous: the worker first imports the app and builds the FAQ index, slow on a busy box)
        assert fake_line.wait_for(lambda: all(any("客人" in t for t in fake_line.texts_for(u)) for u in users), 120)
        # Then each person answers the quiz's first question, delivered four times at once.
        answers = [build_event(fake_line, user_id=user, kind="text", text="上一步") for user in users]
        deliveries = [event for event in answers for _ in range(4)]
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            assert set(pool.map(lambda e: post_webhook(base, CHANNEL_SECRET, [e]).status_code, deliveries)) == {200}
        assert fake_line.wait_for(lambda: all(len(fake_line.texts_for(u)) >= 2 for u in users), 30)
        time.sleep(1.0)  # anything doubled would have arrived by now
        for user in users:
            texts = fake_line.texts_for(user)
            # Once each, in order: the question, then "already the first question" and it again.
            assert len(texts) == 3 and "客人" in texts[0] and "第一題" in texts[1], texts
        database = Database(database_url)
        with database.session() as session:
            assert set(session.exec(select(InboundEvent.status).where(
                InboundEvent.line_user_id.in_(users))).all()) == {"done"}
        database.dispose()
        assert _stop(worker) == 0  # SIGTERM: both children finish and the parent exits cleanly
        worker = None
    finally:
        if worker is not None:
            worker.kill()
        _stop(web)
        runtime.start_background()


def test_shards_split_people_and_keep_each_person_in_one_process(database_url):
    database = Database(database_url)
    try:
        workers = [EventWorker(database=database, process=lambda *a, **k: None, pump_outbox=lambda: None,
                               shard=(index, 3)) for index in range(3)]
        items = [Queued(event_id, f"U{event_id % 40:032d}") for event_id in range(1, 400)]
        for worker in workers:
            worker.submit(items)
        taken = [set(worker._queued) for worker in workers]
        assert set.union(*taken) == {item.event_id for item in items}
        assert sum(len(t) for t in taken) == len(items)  # nobody's event in two processes
        for item in items:
            assert item.event_id in taken[shard_of(item.user_id, 3)]
        assert shard_of("Uabc", 7) == shard_of("Uabc", 7)  # stable across processes (not hash())
    finally:
        database.dispose()


def test_concurrent_acks_share_commits_and_each_gets_its_own_new_events(app, fake_line, database_url):
    database = Database(database_url)
    inbox = EventInbox(functools.partial(store_events, database))
    events = [build_event(fake_line, user_id=f"U{index:032d}", kind="text", text="你好") for index in range(60)]
    # Each body arrives three times from different threads at once (LINE redelivering).
    bodies = [[event] for event in events for _ in range(3)]
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(inbox.store, bodies))
        handed = [item.payload["webhookEventId"] for result in results for item in result]
        assert sorted(handed) == sorted(event["webhookEventId"] for event in events)  # each exactly once
        for body, result in zip(bodies, results):
            assert all(item.payload["webhookEventId"] == body[0]["webhookEventId"] for item in result)
        with database.session() as session:
            assert len(session.exec(select(InboundEvent.id).where(InboundEvent.webhook_event_id.in_(
                [event["webhookEventId"] for event in events]))).all()) == 60
    finally:
        database.dispose()


def test_sent_marks_are_written_in_batches_and_on_idle(chat, fake_line):
    runtime = chat.runtime
    assert runtime.sender._marker is not None  # started with the background threads
    chat.say("數位小測驗")
    with runtime.database.session() as session:
        rows = session.exec(select(OutboundMessage)).all()
    assert rows and {row.status for row in rows} == {"sent"}  # wait_idle flushed the marks
    assert all(row.sent_at and row.sent_as == "reply" for row in rows)


def test_alarms_fire_unless_cancelled():
    alarms = Alarms()
    fired: list[str] = []
    done = threading.Event()
    kept = alarms.schedule(0.2, lambda name: (fired.append(name), done.set()), name="kept")
    dropped = alarms.schedule(0.1, fired.append, name="dropped")
    alarms.cancel(dropped)
    assert done.wait(2)
    time.sleep(0.3)
    assert fired == ["kept"] and kept != dropped


def test_worker_mode_web_app_does_not_start_event_threads(database_url, fake_line):
    app = create_app({**base_config(database_url, fake_line), "EVENT_PROCESSING": "worker"})
    runtime = app.extensions["bot"]
    runtime.start_background()
    try:
        assert not runtime.processes_events
        assert not runtime.worker._threads and runtime.sender._marker is None
        body = json.dumps({"destination": "Ux", "events": [
            build_event(fake_line, user_id="U" + "w" * 32, kind="text", text="你好")]}).encode()
        response = app.test_client().post("/callback", data=body, headers={
            "Content-Type": "application/json", "X-Line-Signature": sign(CHANNEL_SECRET, body)})
        assert response.status_code == 200
        if runtime.database.is_sqlite:
            # In the spool (bot.spool) until a worker copies it: the web took no lock of the
            # main database for it.
            assert runtime.worker.spool.count() == 1
            assert not _statuses(runtime.database, "U" + "w" * 32)
            assert runtime.worker.copy_from_spool() == 1  # what the worker process does each poll
        assert _statuses(runtime.database, "U" + "w" * 32) == ["pending"]
    finally:
        runtime.stop_background()


def _statuses(database: Database, user_id: str) -> list[str]:
    with database.session() as session:
        return session.exec(select(InboundEvent.status).where(InboundEvent.line_user_id == user_id)).all()


def test_a_stop_signal_takes_no_lock_and_still_stops_the_worker(database_url):
    # A signal handler runs between two bytecodes of the main thread, which may be inside
    # Event.set()/wait() holding the Event's lock: a second SIGTERM there (the platform's, then
    # the parent's forward) deadlocked a worker child for good when the handler set the Event.
    database = Database(database_url)
    worker = EventWorker(database=database, process=lambda *a, **k: None, pump_outbox=lambda: None, threads=1)
    try:
        with worker._stop._cond:  # what the interrupted main thread may hold
            handler = threading.Thread(target=worker.request_stop, daemon=True)
            handler.start()
            handler.join(timeout=2)
            assert not handler.is_alive(), "request_stop waited on a lock a signal handler cannot have"
        runner = threading.Thread(target=worker.run_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        runner.start()
        runner.join(timeout=15)
        assert not runner.is_alive() and worker.wait_stopped(0)
    finally:
        worker.stop()
        database.dispose()


def test_worker_children_stop_when_their_parent_is_killed(database_url, fake_line):
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "bot", "events", "run", "--processes", "2"],
                              cwd=REPO, env=production_environment(database_url, fake_line),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[int] = []
    deadline = time.monotonic() + 120
    while len(children) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
        listed = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout
        children = [int(pid) for pid in listed.split()]
    assert len(children) == 2
    worker.kill()  # SIGKILL: no chance to forward a stop
    worker.wait(timeout=10)

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().split(")")[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.5)
    leftover = [pid for pid in children if alive(pid)]
    for pid in leftover:
        os.kill(pid, signal.SIGKILL)
    assert not leftover, "worker children outlived their parent"


def test_acks_store_through_the_driver_exactly_what_the_orm_reads_back(app, fake_line, database_url):
    database = Database(database_url)
    event = build_event(fake_line, user_id="U" + "d" * 32, kind="text", text="你好 ✓")
    event["deliveryContext"] = {"isRedelivery": True}
    try:
        [stored] = store_events(database, [event])
        assert store_events(database, [event]) == []  # the same webhookEventId again: nothing new
        with database.session() as session:
            row = session.get(InboundEvent, stored.event_id)
        assert row.payload == event and row.is_redelivery is True
        assert (row.status, row.attempts, row.event_type, row.line_user_id) == ("pending", 0, "message", "U" + "d" * 32)
        assert row.received_at.tzinfo is not None and abs((row.received_at - stored.received_at).total_seconds()) < 1e-3
    finally:
        database.dispose()


def test_a_batch_commits_the_good_events_when_one_of_them_fails(app, fake_line, database_url, monkeypatch):
    runtime = app.extensions["bot"]
    runtime.stop_background()  # only the worker below handles these events
    database = Database(database_url)
    users = [f"U{index:032d}b" [:33] for index in range(3)]
    broken = users[1]
    handle = runtime.dispatcher.handle

    def failing_for_one(session, event, prefetched=None):
        if event_user_id(event) == broken:
            raise RuntimeError("this person's step is broken")
        return handle(session, event, prefetched)

    monkeypatch.setattr(runtime.dispatcher, "handle", failing_for_one)
    batches: list[int] = []

    def process_fresh(events, **kwargs):
        batches.append(len(events))
        return runtime.dispatcher.process_fresh(events, **kwargs)

    worker = EventWorker(database=database, process=runtime.dispatcher.process, process_fresh=process_fresh,
                         pump_outbox=lambda: None, threads=1, sweep_every=60)
    try:
        items = store_events(database, [build_event(fake_line, user_id=user, kind="text", text="你好") for user in users])
        worker.submit(items)
        worker.start()
        assert worker.wait_idle(timeout=20)
        assert batches == [3]  # three people waiting at once: one transaction
        # (the start-up sweep may already have retried the broken one alone, on the careful path)
        with database.session() as session:
            rows = {row.line_user_id: row for row in session.exec(
                select(InboundEvent).where(InboundEvent.id.in_([item.event_id for item in items]))).all()}
        assert rows[users[0]].status == rows[users[2]].status == "done"
        assert rows[broken].status == "pending" and rows[broken].attempts >= 1  # rolled back, retried later
        runtime.sender.flush_marks()
        answered = {record["to"][0] for record in fake_line.records if record.get("to")}
        assert users[0] in answered and users[2] in answered and broken not in answered
    finally:
        worker.stop()
        database.dispose()
        runtime.start_background()


def test_a_batch_is_handed_to_the_sender_and_its_people_wait_for_their_replies(app, fake_line, database_url):
    # After a batch commits, its replies go out on the sender's threads and the worker thread
    # takes the next batch at once; each person of the batch is released (their next event taken)
    # only when their reply has gone out, so one person's replies keep their order.
    runtime = app.extensions["bot"]
    runtime.stop_background()
    database = Database(database_url)
    worker = EventWorker(database=database, process=runtime.dispatcher.process,
                         process_fresh=runtime.dispatcher.process_fresh, pump_outbox=lambda: None,
                         threads=1, sweep_every=60)
    first, later = ([f"U{index:030d}{tag}" for index in range(3)] for tag in ("h1", "h3"))
    fake_line.latency = 1.2  # every message call takes 1.2 s (the tests' LINE_HTTP_TIMEOUT is 2 s)

    def status_of(items):
        with database.session() as session:
            return set(session.exec(select(InboundEvent.status).where(
                InboundEvent.id.in_([item.event_id for item in items]))).all())
    try:
        runtime.services.warm_up()
        worker.start()
        batch = store_events(database, [build_event(fake_line, user_id=user, kind="text", text="選單")
                                        for user in first])
        follow_ups = store_events(database, [build_event(fake_line, user_id=user, kind="text", text="選單")
                                             for user in first])
        worker.submit(batch + follow_ups)
        deadline = time.monotonic() + 20
        while fake_line.calls.get("reply", 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        # The first replies are on their way (1.2 s each); another batch is handled meanwhile.
        others = store_events(database, [build_event(fake_line, user_id=user, kind="text", text="選單")
                                         for user in later])
        worker.submit(others)
        deadline = time.monotonic() + 0.8
        while status_of(others) != {"done"} and time.monotonic() < deadline:
            time.sleep(0.02)
        assert status_of(others) == {"done"} and not fake_line.records
        assert status_of(follow_ups) == {"pending"}  # these people wait for their first reply
        assert worker.wait_idle(timeout=30)
        for opening, follow_up in zip(batch, follow_ups):
            replies = [record for record in fake_line.records if record.get("to") == [opening.user_id]]
            # Both answered with their own reply token (on time), the first event's first.
            assert [record["reply_token"] for record in replies] == [
                opening.payload["replyToken"], follow_up.payload["replyToken"]]
    finally:
        fake_line.latency = 0.0
        worker.stop()
        database.dispose()
        runtime.start_background()


def test_a_batch_commits_early_for_a_waiting_ack_and_finishes_in_the_next_transaction(app, fake_line, monkeypatch):
    # SQLite has one write lock: a batch holding it past YIELD_TO_ACKS_AFTER_SECONDS while a
    # webhook ack waits commits what it has done and goes on in a new transaction.
    import bot.dispatcher
    runtime = app.extensions["bot"]
    runtime.stop_background()
    database = runtime.services.database
    monkeypatch.setattr(bot.dispatcher, "YIELD_TO_ACKS_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(database, "acks_waiting", lambda: True)  # the gate itself: test below
    commits = []  # the replies of each committed transaction go out right after it
    send_claimed = runtime.sender.send_claimed
    monkeypatch.setattr(runtime.sender, "send_claimed", lambda rows: (commits.append(len(rows)), send_claimed(rows))[1])
    users = [f"U{index:032d}y"[:33] for index in range(3)]
    try:
        items = store_events(database, [build_event(fake_line, user_id=user, kind="text", text="你好") for user in users])
        failed = runtime.dispatcher.process_fresh([(item.event_id, item.payload, item.received_at) for item in items])
        assert failed == [] and commits == [1, 1, 1]  # one commit per event: the ack got through each time
        with database.session() as session:
            statuses = session.exec(select(InboundEvent.status).where(
                InboundEvent.id.in_([item.event_id for item in items]))).all()
        assert statuses == ["done"] * 3
        assert all(fake_line.texts_for(user) for user in users)  # answered after each commit
    finally:
        runtime.start_background()


def test_other_writers_wait_while_any_process_has_acks_in_flight(tmp_path):
    from bot.db import WriterGate

    database_file = str(tmp_path / "bot.db")
    # Two gates on one file behave like two processes: each opens its own lock files.
    web, worker = WriterGate(database_file), WriterGate(database_file)
    taken = threading.Event()
    web.acquire(priority=True)
    thread = threading.Thread(target=lambda: (worker.acquire(), taken.set()))
    thread.start()
    try:
        assert not taken.wait(0.3)  # an ack holds the write lock: the worker queues behind it
        web.release()
        assert taken.wait(5)
        worker.release()
        # An ack in flight elsewhere (waiting or writing) keeps processing from starting at all.
        web._announce_ack()
        taken.clear()
        thread = threading.Thread(target=lambda: (worker.acquire(), taken.set()))
        thread.start()
        assert not taken.wait(0.3)
        assert worker.acks_waiting()  # seen from the other "process" too
        web._ack_done()
        assert taken.wait(5)
        worker.release()
        assert not worker.acks_waiting()
    finally:
        thread.join(timeout=5)


def test_writers_of_one_process_take_turns_in_arrival_order():
    # A thread that releases the write lock and asks again goes behind those already waiting:
    # it still holds the GIL when they are notified, and without turns it took the lock straight
    # back, batch after batch, while another thread's batch waited for seconds.
    from bot.db import WriterGate

    gate = WriterGate(None)  # the in-process part (a file adds the cross-process flocks)
    order = []
    gate.acquire()
    waiting = threading.Thread(target=lambda: (gate.acquire(), order.append("waiting"), gate.release()))
    waiting.start()
    deadline = time.monotonic() + 5
    while not gate._turns and time.monotonic() < deadline:
        time.sleep(0.001)
    gate.release()
    gate.acquire()  # again, at once
    order.append("again")
    gate.release()
    waiting.join(timeout=5)
    assert order == ["waiting", "again"]


def test_the_poller_leaves_events_in_the_database_while_its_hands_are_full(app, fake_line, database_url):
    runtime = app.extensions["bot"]
    runtime.stop_background()
    database = Database(database_url)
    worker = EventWorker(database=database, process=lambda *a, **k: None, pump_outbox=lambda: None, threads=1)
    worker.backlog_limit = 2
    worker._polling = True  # as in run_forever; its threads are not started, so nothing drains
    try:
        items = store_events(database, [build_event(fake_line, user_id=f"U{index:032d}", kind="text", text="你好")
                                        for index in range(5)])
        assert worker.poll() == 2 and worker.poll() == 0  # two in hand: the rest stay pending
        assert worker._queued == {items[0].event_id, items[1].event_id}
        worker.backlog_limit = 10
        worker.sweep(min_age=0.0)  # the sweeper does not take what the poller has not reached
        assert worker._queued == {items[0].event_id, items[1].event_id}
        assert worker.poll() == 3 and worker._queued == {item.event_id for item in items}
        # Caught up and nothing committed since: on SQLite the next poll does not even query
        # (PRAGMA data_version), on PostgreSQL it looks and finds nothing.
        queries = []
        sa.event.listen(database.engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
        assert worker.poll() == 0
        assert (queries == []) if database.is_sqlite else len(queries) == 1
        store_events(database, [build_event(fake_line, user_id="U" + "n" * 32, kind="text", text="你好")])
        worker.backlog_limit = 20
        assert worker.poll() == 1  # a commit elsewhere: it looks again
    finally:
        database.dispose()
        runtime.start_background()


def test_the_worker_lowers_its_session_group_priority_only_when_the_session_is_its_own():
    probe = ("import os; from bot.cli import _session_is_ours, lower_cpu_priority; ours = _session_is_ours(); "
             "lower_cpu_priority(3); group = open('/proc/self/autogroup').read().split()[-1] "
             "if os.path.exists('/proc/self/autogroup') else '3'; print(ours, os.nice(0), group)")
    alone = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                           start_new_session=True, timeout=60)
    assert alone.stdout.split() == ["True", "3", "3"], alone.stderr
    # A session shared with an unrelated process (here a sleep started by the session leader).
    shared = subprocess.run(["sh", "-c", f"sleep 20 & sh -c \"{sys.executable} -c \\\"{probe}\\\"\"; kill $!"],
                            cwd=REPO, capture_output=True, text=True, start_new_session=True, timeout=60)
    assert shared.stdout.split()[:2] == ["False", "3"], shared.stderr
