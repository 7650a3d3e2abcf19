"""Redelivery and duplication: 1,000 events, each delivered twice — a third of them at the same
moment to two app instances on the same database — take effect exactly once (counted per event at
the fake Messaging API)."""
from __future__ import annotations

import concurrent.futures
import time

import pytest
from sqlmodel import func, select

from bot.devmode import build_event, post_webhook
from bot.models import InboundEvent, OutboundMessage
from tests.chaos.harness import (fresh_database_url, isolated_app, losses_and_duplicates, outbox_deliveries,
                                 record_counts)
from tests.conftest import CHANNEL_SECRET, ServerThread


def _wait_all_done(database, expected: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with database.session() as session:
            done = session.exec(select(func.count()).select_from(InboundEvent).where(InboundEvent.status == "done")).one()
            unsent = session.exec(select(func.count()).select_from(OutboundMessage)
                                  .where(OutboundMessage.status.in_(("pending", "sending")))).one()
        if done >= expected and unsent == 0:
            return True
        time.sleep(0.2)
    return False


def run_redelivery(tmp_path, fake_line, *, users: int, per_user: int) -> dict:
    fake_line.reset()
    url = fresh_database_url(tmp_path)
    apps = [isolated_app(url, fake_line, background=True) for _ in range(2)]
    servers = [ServerThread(application) for application in apps]
    try:
        events = []
        for index in range(users * per_user):
            user = f"U{index % users:032x}"
            kind = "text" if index % 5 == 0 else "sticker"
            events.append(build_event(fake_line, user_id=user, kind=kind, text="數位小測驗"))
        first, second = [], []
        for index, event in enumerate(events):
            again = dict(event, deliveryContext={"isRedelivery": True})
            if index % 3 == 0:  # the same event at the same moment to both instances
                first += [(servers[0], event), (servers[1], event)]
            elif index % 3 == 1:  # redelivered later to the same instance
                first.append((servers[0], event))
                second.append((servers[0], again))
            else:  # redelivered later to the other instance
                first.append((servers[1], event))
                second.append((servers[0], again))
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lambda item: post_webhook(item[0].url, CHANNEL_SECRET, [item[1]]).status_code, first))
            statuses += list(pool.map(lambda item: post_webhook(item[0].url, CHANNEL_SECRET, [item[1]]).status_code, second))
        assert set(statuses) == {200}
        database = apps[0].extensions["bot"].database
        assert _wait_all_done(database, len(events), timeout=150), "events or messages left unprocessed"
        time.sleep(1.0)  # anything doubled would have arrived by now
        rows, deliveries = outbox_deliveries(database, fake_line)
        lost, doubled = losses_and_duplicates(rows, deliveries)
        with database.session() as session:
            stored = session.exec(select(func.count()).select_from(InboundEvent)).one()
        per_event: dict[str, int] = {}
        for row_id, times in deliveries.items():
            per_event[rows[row_id][0]] = per_event.get(rows[row_id][0], 0) + len(times)
        assert stored == len(events)
        assert lost == [] and doubled == []
        assert sorted(per_event) == sorted(e["webhookEventId"] for e in events)
        assert set(per_event.values()) == {1}, "an event was answered more than once"
        return {"events": len(events), "deliveries": len(statuses),
                "concurrent_pairs": sum(1 for i in range(len(events)) if i % 3 == 0),
                "losses": len(lost), "duplicates": len(doubled)}
    finally:
        for server in servers:
            server.stop()
        for application in apps:
            application.extensions["bot"].stop_background()
            application.extensions["bot"].database.dispose()


@pytest.mark.slow
def test_redelivered_events_take_effect_once_small(tmp_path, fake_line):
    run_redelivery(tmp_path, fake_line, users=6, per_user=5)


@pytest.mark.slow
def test_thousand_events_delivered_twice_take_effect_once(tmp_path, fake_line):
    counts = run_redelivery(tmp_path, fake_line, users=200, per_user=5)
    record_counts("redelivery", **counts)
