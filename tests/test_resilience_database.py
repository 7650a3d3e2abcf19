"""Database faults: the database goes away mid-conversation. /healthz says 503, the webhook
answers non-2xx (LINE redelivers), and once the database is back the conversation continues
where it was, with every event answered exactly once.

SQLite: the database's directory is moved away and the engine's pooled connections are dropped,
so every new connection fails with "unable to open database file" — what a lost volume looks
like. (A PostgreSQL server stop/start variant needs control of the server: skipped when
TEST_DATABASE_URL points at one.)"""
from __future__ import annotations

import os
import time

import pytest
import requests
from sqlmodel import func, select

from bot.db import upgrade_schema
from bot.devmode import build_event, post_webhook
from bot.devmode.fake_line import message_text
from bot.models import Conversation, InboundEvent, OutboundMessage
from tests.chaos.harness import isolated_app, losses_and_duplicates, out_of_order, outbox_deliveries, record_counts
from tests.conftest import CHANNEL_SECRET, ServerThread

pytestmark = pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                                reason="the outage is simulated on a SQLite file; PostgreSQL needs server control")


class Outage:
    def __init__(self, app, directory):
        self.database = app.extensions["bot"].database
        self.directory = directory
        self.away = directory.with_name(directory.name + ".gone")

    def begin(self):
        self.directory.rename(self.away)
        self.database.engine.dispose()  # pooled connections would still reach the moved file

    def end(self):
        self.away.rename(self.directory)


def _texts_after(fake_line, user, count_before):
    return [message_text(m) for m in fake_line.messages_for(user)[count_before:]]


def _settled(database) -> bool:
    with database.session() as session:
        busy = session.exec(select(func.count()).select_from(InboundEvent)
                            .where(InboundEvent.status.in_(("pending", "processing")))).one()
        unsent = session.exec(select(func.count()).select_from(OutboundMessage)
                              .where(OutboundMessage.status.in_(("pending", "sending")))).one()
    return busy == 0 and unsent == 0


def test_database_outage_mid_conversation(tmp_path, fake_line):
    fake_line.reset()
    directory = tmp_path / "dbdir"
    url = f"sqlite:///{directory / 'bot.db'}"
    upgrade_schema(url)
    app = isolated_app(url, fake_line, background=True, EVENT_LEASE_SECONDS=2)
    server = ServerThread(app)
    runtime = app.extensions["bot"]
    outage = Outage(app, directory)
    user, other = "U" + "d" * 32, "U" + "e" * 32
    rejected = 0
    try:
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200
        # 1. The conversation starts normally.
        assert post_webhook(server.url, CHANNEL_SECRET, [build_event(fake_line, user_id=user, kind="text",
                                                                     text="數位小測驗")]).status_code == 200
        assert fake_line.wait_for(lambda: any("客人" in t for t in fake_line.texts_for(user)), 15)
        seen = len(fake_line.messages_for(user))

        # 2. Another person's burst is in flight when the database goes away.
        burst = [build_event(fake_line, user_id=other, kind="sticker") for _ in range(6)]
        for event in burst:
            assert post_webhook(server.url, CHANNEL_SECRET, [event]).status_code == 200
        outage.begin()
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 503
        answer = build_event(fake_line, user_id=user, kind="text", text="LINE官方帳號")
        for _ in range(3):  # LINE's redeliveries during the outage are refused too
            response = post_webhook(server.url, CHANNEL_SECRET, [answer])
            assert not 200 <= response.status_code < 300
            rejected += 1
            answer = dict(answer, deliveryContext={"isRedelivery": True})
        time.sleep(1.5)  # the workers and the outbox pump run into the outage meanwhile
        assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 503

        # 3. The database is back: the redelivered answer continues the conversation.
        outage.end()
        deadline = time.monotonic() + 10
        while requests.get(f"{server.url}/healthz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "/healthz did not recover"
            time.sleep(0.2)
        assert post_webhook(server.url, CHANNEL_SECRET, [answer]).status_code == 200
        assert fake_line.wait_for(lambda: any("每週大約有幾筆" in t for t in _texts_after(fake_line, user, seen)), 15)
        assert post_webhook(server.url, CHANNEL_SECRET, [build_event(fake_line, user_id=user, kind="text",
                                                                     text="20")]).status_code == 200
        deadline = time.monotonic() + 60
        while not _settled(runtime.database) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _settled(runtime.database), "events or messages left behind after the outage"
        texts = _texts_after(fake_line, user, seen)
        assert sum("每週大約有幾筆" in t for t in texts) == 1  # the answer given during the outage: once
        with runtime.database.session() as session:
            conversation = session.get(Conversation, user)
            assert conversation.data.get("channel") == "line" or conversation.flow is None
        time.sleep(1.0)
        rows, deliveries = outbox_deliveries(runtime.database, fake_line)
        lost, doubled = losses_and_duplicates(rows, deliveries)
        answered = {rows[row_id][0] for row_id in deliveries}
        assert {event["webhookEventId"] for event in burst} <= answered, "an event of the burst was lost"
        assert lost == [] and doubled == [] and out_of_order(rows, deliveries) == []
        record_counts("database_outage", outages=1, webhooks_refused_during_outage=rejected,
                      events_in_flight=len(burst), losses=len(lost), duplicates=len(doubled))
    finally:
        if outage.away.exists():
            outage.end()
        server.stop()
        runtime.stop_background()
        runtime.database.dispose()
