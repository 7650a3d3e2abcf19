"""Crash: a real bot process is SIGKILLed at random moments while it processes events (event →
reply path) and delivers queued pushes and multicasts (the broadcast/outbox path), then restarted
on the same database. Afterwards: every event processed once, no partial record, nothing sent
twice, nothing queued lost."""
from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
from sqlmodel import func, select

from bot.db import Database
from bot.devmode import build_event, post_webhook
from bot.messages import Text
from bot.models import InboundEvent, OutboundMessage
from bot.outbox import enqueue_multicast, enqueue_push
from tests.chaos.harness import (REPO, fresh_database_url, losses_and_duplicates, out_of_order, outbox_deliveries,
                                 record_counts)
from tests.conftest import CHANNEL_SECRET


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BotProcess:
    def __init__(self, database_url: str, fake_url: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.run_app", database_url, fake_url, str(self.port)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.process.stdout.readline().strip() == "READY", "the bot process did not start"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


class Deliverer:
    """Plays LINE: posts each event until it gets a 2xx (a redelivery after any failure)."""

    def __init__(self, fake_line, users: int, per_user: int):
        self.fake_line = fake_line
        self.per_user = per_user
        self.events: list[list[dict]] = [[] for _ in range(users)]
        self.url = None
        self.refused = 0
        self.stop = threading.Event()

    def run_user(self, index: int) -> None:
        for step in range(self.per_user):
            # Built when sent: LINE issues the reply token when the person sends the message.
            event = build_event(self.fake_line, user_id=f"U{index:030x}cc", kind="text" if step % 3 == 0 else "sticker",
                                text="數位小測驗")
            self.events[index].append(event)
            attempt = event
            while not self.stop.is_set():
                try:
                    if self.url and post_webhook(self.url, CHANNEL_SECRET, [attempt]).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                self.refused += 1
                attempt = dict(event, deliveryContext={"isRedelivery": True})
                time.sleep(0.1)
            time.sleep(random.uniform(0.0, 0.15))


def _queue_broadcast_work(database: Database, round_index: int, users: list[str]) -> int:
    """Pushes and a multicast queued the way broadcasts/reminders queue them (in a transaction)."""
    with database.write_session() as session:
        rows = enqueue_multicast(session, to=users, replies=[Text(f"公告 {round_index}")],
                                 idempotency_key=f"chaos-broadcast-{round_index}", origin="broadcast:chaos")
        for user in users[:10]:
            rows += enqueue_push(session, to=user, replies=[Text(f"提醒 {round_index}")],
                                 idempotency_key=f"chaos-push-{round_index}-{user}", origin="reminder:chaos")
    return len(rows)


def _settled(database: Database) -> bool:
    with database.session() as session:
        busy = session.exec(select(func.count()).select_from(InboundEvent)
                            .where(InboundEvent.status.in_(("pending", "processing")))).one()
        unsent = session.exec(select(func.count()).select_from(OutboundMessage)
                              .where(OutboundMessage.status.in_(("pending", "sending")))).one()
    return busy == 0 and unsent == 0


def run_crashes(tmp_path, fake_line, *, kills: int, users: int, per_user: int, seed: int) -> dict:
    random.seed(seed)
    fake_line.reset()
    url = fresh_database_url(tmp_path)
    database = Database(url)
    deliverer = Deliverer(fake_line, users, per_user)
    posters = [threading.Thread(target=deliverer.run_user, args=(index,), daemon=True) for index in range(users)]
    queued = 0
    process = BotProcess(url, fake_line.url)
    deliverer.url = process.url
    for thread in posters:
        thread.start()
    try:
        for round_index in range(kills):
            queued += _queue_broadcast_work(database, round_index, [f"U{u:030x}cc" for u in range(users)])
            time.sleep(random.uniform(0.1, 1.2))  # somewhere in processing, sending or retrying
            deliverer.url = None
            process.kill()
            process = BotProcess(url, fake_line.url)
            deliverer.url = process.url
        for thread in posters:
            thread.join(timeout=120)
        deadline = time.monotonic() + 90
        while not _settled(database) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _settled(database), "work left behind after the restarts"
        time.sleep(1.0)
        rows, deliveries = outbox_deliveries(database, fake_line)
        lost, doubled = losses_and_duplicates(rows, deliveries)
        all_events = [event for events in deliverer.events for event in events]
        with database.session() as session:
            stored = session.exec(select(InboundEvent)).all()
            statuses = {event.status for event in stored}
            answered = {label for label, _, _ in rows.values()}
        # No partial record: each event is done and has its reply rows (one transaction).
        assert len(stored) == len(all_events) and statuses == {"done"}
        assert {e["webhookEventId"] for e in all_events} <= answered
        if lost:
            with database.session() as session:
                detail = [(r.id, r.kind, r.status, r.attempts, r.ambiguous_reply, r.sent_as, r.last_error, r.origin)
                          for r in session.exec(select(OutboundMessage).where(OutboundMessage.id.in_(lost))).all()]
            pytest.fail(f"{len(lost)} queued messages never delivered: {detail}")
        assert doubled == [], f"{len(doubled)} messages delivered twice"
        assert out_of_order(rows, deliveries) == []
        return {"kills": kills, "events": len(all_events), "queued_pushes_and_multicasts": queued,
                "outbox_rows": len(rows), "webhook_redeliveries_while_down": deliverer.refused,
                "losses": len(lost), "duplicates": len(doubled)}
    finally:
        deliverer.stop.set()
        process.kill()
        database.dispose()


@pytest.mark.slow
def test_random_sigkills_lose_and_double_nothing(tmp_path, fake_line):
    counts = run_crashes(tmp_path, fake_line, kills=5, users=10, per_user=10, seed=20261121)
    record_counts("crash_sigkill", **counts)
