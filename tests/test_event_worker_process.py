"""The Procfile's split: web processes only store and ack (EVENT_PROCESSING=worker), the worker
process (`flask --app bot events run`, several processes) handles every event once and each
person's events in order. Plus the pieces that keep the hot path cheap: group-committed acks,
batched "sent" marks, one alarm thread for the loading animation."""
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import threading
import time

import requests
from sqlmodel import select

from bot import create_app
from bot.db import Database
from bot.devmode import build_event, post_webhook, sign
from bot.alarms import Alarms
from bot.events import EventInbox, EventWorker, Queued, shard_of
from bot.models import InboundEvent, OutboundMessage
from tests.conftest import ACCESS_TOKEN, CHANNEL_SECRET, REPO, base_config
from tests.test_exactly_once import _free_port


def _environment(database_url: str, fake_line) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "LINE_CHANNEL_SECRET": CHANNEL_SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN, "LINE_API_BASE_URL": fake_line.url,
            "LINE_DATA_API_BASE_URL": fake_line.url, "BOT_ENV": "production", "LOG_LEVEL": "WARNING",
            "PROGRAMS_FILE": str(REPO / "programs" / "programs.yaml"), "EVENT_WORKER_NICE": "0"}


def _wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError("web process did not come up")


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_web_acks_and_two_worker_processes_answer_each_event_once_in_order(app, fake_line, database_url):
    # The session's in-test app would otherwise sweep up these events itself (after 2 s): pause
    # it, so every answer below comes from the worker processes.
    runtime = app.extensions["bot"]
    runtime.stop_background()
    env = _environment(database_url, fake_line)
    port = _free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--workers", "2", "--threads", "4",
         "--bind", f"127.0.0.1:{port}", "bot.wsgi:create_web_app()"], cwd=REPO,
        env={**env, "EVENT_PROCESSING": "worker"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    worker = None
    try:
        _wait_healthy(base)
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
    inbox = EventInbox(database)
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
        with runtime.database.session() as session:
            assert session.exec(select(InboundEvent.status).where(
                InboundEvent.line_user_id == "U" + "w" * 32)).all() == ["pending"]
    finally:
        runtime.stop_background()


def test_worker_children_stop_when_their_parent_is_killed(database_url, fake_line):
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "bot", "events", "run", "--processes", "2"],
                              cwd=REPO, env=_environment(database_url, fake_line),
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
