"""Batched outbox delivery for scheduler ticks.

``bot.outbox.OutboxSender`` delivers one row per three transactions, which is right for chat
replies but too slow for ten thousand reminders in one tick. This module keeps the outbox's
semantics (atomic pending -> sending claim, X-Line-Retry-Key per row, backoff, dead letters,
no pushes to people who unfollowed or stopped processing) but claims and finishes rows in bulk and
sends concurrently under LINE's rate limits (push 2,000 req/s, multicast 200 req/s).
"""
from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.db import utc_now
from bot.gateway import SendResult
from bot.messages import Reply, batches, to_line_messages
from bot.models import OutboundMessage, User

# LINE Messaging API rate limits (requests per second) per endpoint.
RATE_LIMITS = {"push": 2000.0, "multicast": 200.0}
CLAIM_CHUNK = 500


class TokenBucket:
    """A thread-safe token bucket: ``take()`` blocks until a request may go out."""

    def __init__(self, rate: float, capacity: float | None = None):
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate / 10)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
            time.sleep(wait)


def push_rows(session: Session, items: Iterable[tuple[str, Sequence[Reply], str]], *, origin: str,
              not_before: datetime) -> list[OutboundMessage]:
    """Outbox push rows for (to, replies, idempotency_key) in one flush.

    Same row shape as ``bot.outbox.enqueue_push`` without its per-key existence query: callers
    pass keys derived from a reminder row they hold claimed, so a key cannot repeat."""
    rows = []
    for to, replies, key in items:
        for index, batch in enumerate(batches(to_line_messages(replies))):
            rows.append(OutboundMessage(idempotency_key=f"{key}#{index}" if index else key, kind="push",
                                        recipient=to, messages=batch, origin=origin, next_attempt_at=not_before))
    session.add_all(rows)
    session.flush()
    return rows


@dataclass
class DeliveryReport:
    requests: int = 0
    sent: int = 0  # rows accepted by LINE
    recipients: int = 0  # people reached (a multicast counts each recipient)
    retrying: int = 0
    dead: int = 0
    cancelled: int = 0
    skipped: int = 0  # claimed elsewhere first (another pump) — not ours to send
    errors: list[str] = field(default_factory=list)

    def add(self, other: "DeliveryReport") -> None:
        for name in ("requests", "sent", "recipients", "retrying", "dead", "cancelled", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors[: max(0, 5 - len(self.errors))])


class BatchDeliverer:
    def __init__(self, *, database, gateway, max_attempts: int = 8, base_delay: float = 0.5,
                 workers: int = 8, rates: dict[str, float] | None = None,
                 retry_window: timedelta = timedelta(hours=24)):
        self.database = database
        self.gateway = gateway
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.retry_window = retry_window
        self.workers = workers
        self.buckets = {kind: TokenBucket(rate) for kind, rate in (rates or RATE_LIMITS).items()}
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reminder-send")
        self.batches = ThreadPoolExecutor(max_workers=2, thread_name_prefix="reminder-batch")

    def close(self) -> None:
        self.batches.shutdown(wait=True)
        self.pool.shutdown(wait=True)

    def submit(self, row_ids: Sequence[int], *, now: datetime | None = None):
        """Deliver in the background; returns a future of the DeliveryReport."""
        return self.batches.submit(self.deliver, list(row_ids), now=now)

    # --- claiming ------------------------------------------------------------------------
    def _claim(self, ids: list[int], now: datetime) -> list[dict]:
        with self.database.write_session() as session:
            claimed = session.execute(
                sa.update(OutboundMessage)
                .where(OutboundMessage.id.in_(ids), OutboundMessage.status == "pending",
                       OutboundMessage.next_attempt_at <= now)
                .values(status="sending", attempts=OutboundMessage.attempts + 1, next_attempt_at=now)
                .returning(OutboundMessage.id, OutboundMessage.kind, OutboundMessage.recipient,
                           OutboundMessage.recipients, OutboundMessage.messages, OutboundMessage.retry_key,
                           OutboundMessage.attempts, OutboundMessage.created_at)).all()
            return [dict(row._mapping) for row in claimed]

    def _inactive(self, user_ids: set[str]) -> set[str]:
        """People we must not push to any more (unfollowed, or 停止處理 under 個資法 第3條)."""
        inactive: set[str] = set()
        ids = list(user_ids)
        with self.database.session() as session:
            for start in range(0, len(ids), 900):
                inactive |= set(session.exec(select(User.line_user_id).where(
                    User.line_user_id.in_(ids[start:start + 900]),
                    sa.or_(User.is_following.is_(False), User.processing_stopped.is_(True)))).all())
        return inactive

    # --- sending -------------------------------------------------------------------------
    def _send(self, row: dict, inactive: set[str]) -> tuple[dict, SendResult, int]:
        if row["kind"] == "push":
            self.buckets["push"].take()
            return row, self.gateway.push(to=row["recipient"], messages=row["messages"],
                                          retry_key=row["retry_key"]), 1
        if row["kind"] == "multicast":
            to = [r for r in row["recipients"] or [] if r not in inactive]
            if not to:
                return row, SendResult("ok", None, "no active recipients"), 0
            self.buckets["multicast"].take()
            return row, self.gateway.multicast(to=to, messages=row["messages"], retry_key=row["retry_key"]), len(to)
        return row, SendResult("permanent", None, f"kind {row['kind']} is not a scheduled push"), 0

    def deliver(self, row_ids: Sequence[int], *, now: datetime | None = None) -> DeliveryReport:
        report = DeliveryReport()
        now = now or utc_now()
        for start in range(0, len(row_ids), CLAIM_CHUNK):
            report.add(self._deliver_chunk(list(row_ids[start:start + CLAIM_CHUNK]), now))
        return report

    def _deliver_chunk(self, ids: list[int], now: datetime) -> DeliveryReport:
        report = DeliveryReport()
        rows = self._claim(ids, now)
        report.skipped = len(ids) - len(rows)
        people = {r["recipient"] for r in rows if r["recipient"]}
        for r in rows:
            people.update(r["recipients"] or [])
        inactive = self._inactive(people) if people else set()
        blocked = [r["id"] for r in rows if r["kind"] == "push" and r["recipient"] in inactive]
        to_send = [r for r in rows if not (r["kind"] == "push" and r["recipient"] in inactive)]
        results = list(self.pool.map(lambda r: self._send(r, inactive), to_send)) if to_send else []
        sent: dict[str, list[int]] = {}
        failures: list[tuple[dict, SendResult]] = []
        for row, result, reached in results:
            report.requests += 1 if reached or not result.ok else 0
            if result.ok:
                sent.setdefault(row["kind"], []).append(row["id"])
                report.sent += 1
                report.recipients += reached
            else:
                failures.append((row, result))
        with self.database.write_session() as session:
            stamp = utc_now()
            for kind, ids_sent in sent.items():
                session.execute(sa.update(OutboundMessage).where(OutboundMessage.id.in_(ids_sent))
                                .values(status="sent", sent_at=stamp, sent_as=kind, last_error=None))
            if blocked:
                session.execute(sa.update(OutboundMessage).where(OutboundMessage.id.in_(blocked))
                                .values(status="cancelled", last_error="recipient unfollowed or stopped"))
                report.cancelled += len(blocked)
            for row, result in failures:
                error = f"{result.status}: {result.detail}"[:500]
                # The outbox's rule (bot.outbox.OutboxSender._retry): a retryable failure gives up
                # only after max_attempts AND retry_window, so a LINE outage longer than the
                # backoff does not turn every queued reminder into a dead letter.
                gave_up = row["attempts"] >= self.max_attempts and stamp - row["created_at"] >= self.retry_window
                if result.outcome in ("retry", "ambiguous") and not gave_up:
                    delay = result.retry_after or self.base_delay * (2 ** min(row["attempts"] - 1, 20))
                    delay = min(delay, 300) * (1 + random.random() * 0.2)
                    values = {"status": "pending", "next_attempt_at": stamp + timedelta(seconds=delay),
                              "last_error": error}
                    report.retrying += 1
                else:
                    values = {"status": "dead", "last_error": error}
                    report.dead += 1
                    if len(report.errors) < 5:
                        report.errors.append(error)
                session.execute(sa.update(OutboundMessage).where(OutboundMessage.id == row["id"]).values(**values))
        return report
