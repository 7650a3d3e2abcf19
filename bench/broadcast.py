"""Broadcast benchmark (``make bench``): 100,000 recipients through the real outbox and the real
line-bot-sdk against a local fake LINE API over HTTP.

    .venv/bin/python -m bench.broadcast            # prints the figures as JSON

Own temporary SQLite database, own FakeLine server (werkzeug, threaded) with ~5 ms per call.
Measured: queueing (audience resolution + 200 multicast rows in one transaction) and delivery
(parallel, rate-limited to LINE's 200 requests/s) until no chunk is pending; then every recipient
must have been messaged exactly once (duplicates and missing are counted from the fake's records).
"""
from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import select
from werkzeug.serving import make_server

from bot.db import Database, upgrade_schema
from bot.devmode.fake_line import Fault, FakeLine, create_fake_line_app
from bot.gateway import LineGateway
from bot.models import OutboundMessage, User
from bot.outbox import OutboxSender
from broadcasts import service

ACCESS_TOKEN = "bench-token"


def serve_fake_line(fake: FakeLine):
    """The fake Messaging API on a free loopback port, in this process: (server, base URL)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # 200 request lines would cost time
    server = make_server("127.0.0.1", 0, create_fake_line_app(fake), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_port}"


def _seed_users(database: Database, count: int) -> None:
    rows = [{"line_user_id": f"U{i:032x}", "is_following": True, "reminders_enabled": True,
             "processing_stopped": False} for i in range(count)]
    with database.engine.begin() as connection:
        for start in range(0, count, 10_000):
            connection.execute(sa.insert(User.__table__), rows[start:start + 10_000])


def run_broadcast_bench(*, recipients: int = 100_000, latency: float = 0.005, workers: int = 8,
                        lost_answers: int = 0, timeout: float = 60.0) -> dict:
    """Returns wall time (queue + deliver), requests made, duplicates and missing recipients.

    ``lost_answers``: that many multicast calls are accepted by the fake but their answer is
    dropped (as if the connection died), forcing the retry path (same X-Line-Retry-Key → 409)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade_schema(url)
        database = Database(url)
        fake = FakeLine(access_token=ACCESS_TOKEN)
        fake.latency = latency
        server, fake_url = serve_fake_line(fake)
        gateway = LineGateway(access_token=ACCESS_TOKEN, api_base_url=fake_url, data_api_base_url=fake_url,
                              timeout=5, pool_size=max(16, workers * 2))
        sender = OutboxSender(database=database, gateway=gateway, max_attempts=8, base_delay=0.05)
        try:
            _seed_users(database, recipients)
            if lost_answers:
                fake.faults.append(Fault("multicast", mode="accept_then_drop", times=lost_answers))

            started = time.perf_counter()
            with database.write_session() as session:
                broadcast = service.create_broadcast(session, actor="bench", source="bench", text="公告：效能測試",
                                                     image_url=None, link_url=None, audience_kind="all",
                                                     audience_value=None)
                broadcast_id, chunks = broadcast.id, broadcast.chunks
            queued = time.perf_counter()

            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                service.deliver_broadcast(sender, broadcast_id=broadcast_id, workers=workers)
                with database.session() as session:
                    open_rows = session.exec(select(sa.func.count(OutboundMessage.id)).where(
                        OutboundMessage.origin == f"broadcast:{broadcast_id}",
                        OutboundMessage.status.in_(("pending", "sending")))).one()
                if not open_rows:
                    break
                time.sleep(0.02)  # a retry waits for its backoff
            finished = time.perf_counter()

            with fake.lock:
                delivered = [r for record in fake.records if record["kind"] == "multicast" for r in record["to"]]
            counts = Counter(delivered)
            with database.session() as session:
                report = service.delivery_report(session, broadcast_id=broadcast_id)
            return {
                "recipients": recipients,
                "chunks": chunks,
                "wall_seconds": round(finished - started, 3),
                "queue_seconds": round(queued - started, 3),
                "deliver_seconds": round(finished - queued, 3),
                "requests": fake.calls.get("multicast", 0),
                "delivered": len(counts),
                "duplicates": sum(n - 1 for n in counts.values() if n > 1),
                "missing": recipients - len(counts),
                "report": {"sent": report.sent, "failed": report.failed, "pending": report.pending,
                           "state": report.state},
                "latency_ms": latency * 1000,
                "workers": workers,
                "lost_answers": lost_answers,
            }
        finally:
            gateway.close()
            server.shutdown()
            database.dispose()


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(json.dumps(run_broadcast_bench(recipients=count), ensure_ascii=False, indent=2))
