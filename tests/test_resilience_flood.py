"""Floods: one person sending 50 messages a second is slowed politely (one core.slow_down notice,
then the backlog, in order, nothing lost) and nobody else waits for it."""
from __future__ import annotations

import threading
import time

import pytest

from bot.devmode import build_event, post_webhook
from bot.ratelimit import FloodGuard
from bot.texts import t
from tests.chaos.harness import (fresh_database_url, isolated_app, losses_and_duplicates, out_of_order,
                                 outbox_deliveries, record_counts)
from tests.conftest import CHANNEL_SECRET, ServerThread


def test_flood_guard_paces_only_past_the_limit():
    now = [0.0]
    guard = FloodGuard(window_seconds=10, max_events=3, pace_seconds=0.5, clock=lambda: now[0])
    assert [guard.record("A") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert guard.record("A") == 0.5
    assert guard.record("B") == 0.0  # someone else is not slowed
    now[0] = 11.0
    assert guard.record("A") == 0.0  # the window has passed


def _flood(tmp_path, fake_line, *, flood_size: int, others: int) -> dict:
    fake_line.reset()
    app = isolated_app(fresh_database_url(tmp_path), fake_line, background=True)
    server = ServerThread(app)
    runtime = app.extensions["bot"]
    flooder = "U" + "f1" * 16
    calm = [f"U{index:031x}c" for index in range(others)]
    posted: dict[str, float] = {}
    try:
        def flood():
            for _ in range(flood_size):
                event = build_event(fake_line, user_id=flooder, kind="sticker")
                assert post_webhook(server.url, CHANNEL_SECRET, [event]).status_code == 200
                time.sleep(0.02)  # ~50 a second

        thread = threading.Thread(target=flood)
        started = time.monotonic()
        thread.start()
        time.sleep(0.4)  # the flood is under way
        for user in calm:
            posted[user] = time.time()
            event = build_event(fake_line, user_id=user, kind="sticker")
            assert post_webhook(server.url, CHANNEL_SECRET, [event]).status_code == 200
        assert fake_line.wait_for(lambda: all(fake_line.texts_for(user) for user in calm), 15)
        calm_latency = max(min(r["at"] for r in fake_line.records if user in r["to"]) - posted[user] for user in calm)
        thread.join(30)
        assert runtime.worker.wait_idle(60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(fake_line.messages_for(flooder)) < flood_size:
            time.sleep(0.1)
        time.sleep(0.5)
        flood_seconds = time.monotonic() - started
        texts = fake_line.texts_for(flooder)
        notices = sum(t("core.slow_down") in text for text in texts)
        rows, deliveries = outbox_deliveries(runtime.database, fake_line)
        lost, doubled = losses_and_duplicates(rows, deliveries)
        answered = {rows[row_id][0] for row_id in deliveries if rows[row_id][1] == flooder}
        counts = {"flood_messages": flood_size, "flood_answered": len(answered), "slow_down_notices": notices,
                  "flood_seconds": round(flood_seconds, 2), "other_users": others,
                  "other_users_max_latency_seconds": round(calm_latency, 2),
                  "losses": len(lost), "duplicates": len(doubled)}
        print(counts)
        assert len(answered) == flood_size, "a flooded message was lost"
        assert lost == [] and doubled == [] and out_of_order(rows, deliveries) == []
        assert notices == 1
        assert calm_latency < 3.0, "other people waited for the flood"
        assert calm_latency < flood_seconds / 2
        return counts
    finally:
        server.stop()
        runtime.stop_background()
        runtime.database.dispose()


@pytest.mark.slow
def test_one_person_flooding_slows_nobody_else(tmp_path, fake_line):
    counts = _flood(tmp_path, fake_line, flood_size=50, others=4)
    record_counts("flood", **counts)
