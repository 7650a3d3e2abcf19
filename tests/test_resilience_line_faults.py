"""LINE API faults: the fake Messaging API answers 500/503, 429 with Retry-After, times out,
drops connections and accepts-then-drops (delivered, answer lost) for a while — nothing is lost,
nothing is doubled, everything arrives after recovery, in order per user."""
from __future__ import annotations

import concurrent.futures
import threading
import time

import pytest
from sqlmodel import func, select

from bot.devmode import build_event, post_webhook
from bot.devmode.fake_line import Fault
from bot.models import InboundEvent, OutboundMessage
from tests.chaos.harness import (fresh_database_url, isolated_app, losses_and_duplicates, out_of_order,
                                 outbox_deliveries, record_counts)
from tests.conftest import CHANNEL_SECRET, ServerThread


def fault_storm(rounds: int, *, timeouts: bool = True) -> list[Fault]:
    """Every kind of failure, interleaved; each Fault answers ``times`` calls to any endpoint."""
    faults = []
    for _ in range(rounds):
        faults += [Fault("*", 500, times=3), Fault("*", 429, times=2, retry_after=1),
                   Fault("*", 0, times=2, mode="drop"), Fault("*", 0, times=2, mode="accept_then_drop"),
                   Fault("*", 503, times=2)]
        if timeouts:
            faults.append(Fault("*", 0, times=1, mode="timeout", delay=2.5))  # > LINE_HTTP_TIMEOUT (2 s)
    return faults


def _settled(database) -> bool:
    with database.session() as session:
        open_events = session.exec(select(func.count()).select_from(InboundEvent)
                                   .where(InboundEvent.status.in_(("pending", "processing")))).one()
        unsent = session.exec(select(func.count()).select_from(OutboundMessage)
                              .where(OutboundMessage.status.in_(("pending", "sending")))).one()
    return open_events == 0 and unsent == 0


def run_line_faults(tmp_path, fake_line, *, users: int, per_user: int, rounds: int, outage_seconds: float,
                    timeouts: bool = True) -> dict:
    fake_line.reset()
    app = isolated_app(fresh_database_url(tmp_path), fake_line, background=True)
    server = ServerThread(app)
    database = app.extensions["bot"].database
    outage = Fault("*", 503, times=0)
    try:
        fake_line.faults[:] = fault_storm(rounds, timeouts=timeouts) + [outage]
        stop_outage = threading.Event()

        def hold_outage():
            # After the storm, LINE answers 503 to everything for ``outage_seconds``.
            while fake_line.faults and any(f.times for f in fake_line.faults[:-1]) and not stop_outage.is_set():
                time.sleep(0.05)
            outage.times = 10**9
            stop_outage.wait(outage_seconds)
            with fake_line.lock:
                fake_line.injected -= outage.times and 0  # (count stays exact: only answered faults count)
                outage.times = 0

        holder = threading.Thread(target=hold_outage, daemon=True)
        holder.start()

        def one_user(index: int) -> list[int]:
            user = f"U{index:031x}f"
            statuses = []
            for step in range(per_user):
                kind = "text" if step % 4 == 0 else "sticker"
                event = build_event(fake_line, user_id=user, kind=kind, text="數位小測驗")
                statuses.append(post_webhook(server.url, CHANNEL_SECRET, [event]).status_code)
                time.sleep(0.05)
            return statuses

        with concurrent.futures.ThreadPoolExecutor(max_workers=users) as pool:
            statuses = [s for result in pool.map(one_user, range(users)) for s in result]
        assert set(statuses) == {200}
        holder.join(timeout=outage_seconds + 120)
        deadline = time.monotonic() + 120
        while not _settled(database) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _settled(database), "messages still waiting after LINE recovered"
        time.sleep(1.0)
        rows, deliveries = outbox_deliveries(database, fake_line)
        lost, doubled = losses_and_duplicates(rows, deliveries)
        disordered = out_of_order(rows, deliveries)
        with database.session() as session:
            dead = session.exec(select(func.count()).select_from(OutboundMessage)
                                .where(OutboundMessage.status != "sent")).one()
        counts = {"events": len(statuses), "messages": len(rows), "faults_injected": fake_line.injected,
                  "outage_seconds": outage_seconds, "losses": len(lost), "duplicates": len(doubled),
                  "users_out_of_order": len(disordered), "dead_letters": dead}
        print(counts)
        assert fake_line.injected > 0
        assert lost == [], f"{len(lost)} messages never delivered"
        assert doubled == [], f"{len(doubled)} messages delivered twice"
        assert disordered == [], "messages arrived out of order"
        assert len(rows) >= len(statuses)
        return counts
    finally:
        outage.times = 0
        fake_line.faults.clear()
        server.stop()
        app.extensions["bot"].stop_background()
        database.dispose()


def test_line_faults_small(tmp_path, fake_line):
    run_line_faults(tmp_path, fake_line, users=3, per_user=4, rounds=1, outage_seconds=0, timeouts=False)


@pytest.mark.slow
def test_line_faults_storm_and_outage(tmp_path, fake_line):
    counts = run_line_faults(tmp_path, fake_line, users=12, per_user=8, rounds=6, outage_seconds=12)
    record_counts("line_api_faults", **counts)
