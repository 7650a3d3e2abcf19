"""Persistent outbox: a message is a row before it is a request, so nothing is lost or doubled.

* Rows are written in the same transaction as the state change that caused them.
* A row is claimed atomically (pending -> sending) before its HTTP call, so two pumps (web
  workers, the scheduler process) never send the same row twice.
* Push/multicast/broadcast carry the row's X-Line-Retry-Key on every attempt: if LINE accepted an
  attempt whose answer we lost, the retry gets 409 and counts as sent.
* Replies use the reply token while it is fresh, then fall back to push. A reply attempt whose
  outcome is unknown (timeout, dropped connection) is retried as a reply: a token that is then
  "invalid" was consumed by that attempt, so the message was delivered and is not pushed again.
* Per recipient, rows are delivered in id order: a later row waits while an earlier one retries.
* Once the sender's background thread runs (``start``), "sent" is recorded in batches every few
  milliseconds instead of one transaction per message. A crash in between leaves rows "sending":
  ``recover_stuck`` retries them, and that retry cannot double a message (a reply's token is then
  consumed -> counted as delivered; a push carries the same X-Line-Retry-Key -> 409).
"""
from __future__ import annotations

import logging
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterable, Sequence

import sqlalchemy as sa
from sqlmodel import Session, select

from bot.db import Database, bound_columns, execute_on_driver, utc_now
from bot.gateway import LineGateway, SendResult
from bot.messages import Reply, batches, to_line_messages
from bot.models import OutboundMessage, User
from bot.services import find_user

if TYPE_CHECKING:
    from bot.events import Completion

log = logging.getLogger(__name__)

# LINE documents reply tokens as short-lived; past this age we push instead of trying to reply.
REPLY_TOKEN_TTL = timedelta(seconds=50)
SEND_THREADS = 8  # people answered at once after a batch commits (OutboxSender.send_claimed)
INT32_MAX = 2_147_483_647  # ids are INTEGER columns on PostgreSQL: "before any id"


def _key(prefix: str, index: int) -> str:
    return f"{prefix}#{index}" if index else prefix


@dataclass
class ClaimedRow:
    """A just-queued outbox row as the sender needs it (a plain object: building SQLModel
    instances costs more than the insert itself on the hot path)."""

    id: int
    kind: str
    recipient: str | None
    reply_token: str | None
    reply_token_received_at: datetime | None
    messages: list
    retry_key: str
    status: str
    attempts: int
    created_at: datetime
    ambiguous_reply: bool = False
    recipients: list | None = None


def enqueue_reply(session: Session, *, user_id: str | None, reply_token: str | None,
                  received_at: datetime | None, replies: Sequence[Reply], idempotency_key: str,
                  origin: str | None = None, claimed: bool = False) -> list[ClaimedRow]:
    """Queue replies to an event. The first 5 messages use the reply token; any further batches
    (and everything, when there is no token) are pushes.

    ``claimed``: the rows are born claimed ("sending", attempt 1) by the caller, who sends them
    right after its commit (``OutboxSender.send_claimed``) — one transaction fewer on the hot path.
    If the caller dies first, ``recover_stuck`` hands them back after the lease, as for any claim."""
    messages = to_line_messages(replies)
    if not messages:
        return []
    now = utc_now()
    if reply_token and received_at and now - received_at >= REPLY_TOKEN_TTL:
        # Processed late (a backlog, a restart): the token is stale already, so push. A stale
        # reply row left "sending" by a crash would come back ambiguous and be counted as
        # delivered without ever being sent (found by tests/test_chaos_crash.py).
        reply_token = None
    rows = []
    for index, batch in enumerate(batches(messages)):
        use_reply = index == 0 and bool(reply_token)
        if not use_reply and not user_id:
            continue  # no way to reach a source without a user id (e.g. some group events)
        values = {
            "idempotency_key": _key(idempotency_key, index), "kind": "reply" if use_reply else "push",
            "recipient": user_id, "recipients": None, "reply_token": reply_token if use_reply else None,
            "reply_token_received_at": received_at if use_reply else None, "messages": batch,
            "retry_key": str(uuid.uuid4()), "status": "sending" if claimed else "pending",
            "attempts": 1 if claimed else 0, "ambiguous_reply": False, "next_attempt_at": now,
            "origin": origin, "created_at": now}
        row_id = execute_on_driver(session, _INSERT_RETURNING_ID, values).fetchone()[0]
        rows.append(ClaimedRow(id=row_id, kind=values["kind"], recipient=user_id,
                               reply_token=values["reply_token"],
                               reply_token_received_at=values["reply_token_received_at"], messages=batch,
                               retry_key=values["retry_key"], status=values["status"],
                               attempts=values["attempts"], created_at=now))
    return rows


_outbox = OutboundMessage.__table__
_QUEUED_COLUMNS = ("idempotency_key", "kind", "recipient", "recipients", "reply_token", "reply_token_received_at",
                   "messages", "retry_key", "status", "attempts", "ambiguous_reply", "next_attempt_at", "origin",
                   "created_at")
_INSERT_RETURNING_ID = sa.insert(_outbox).values(bound_columns(_outbox, _QUEUED_COLUMNS)).returning(_outbox.c.id)
_MARK_SENT = (sa.update(_outbox).where(_outbox.c.id == sa.bindparam("row_id"), _outbox.c.status == "sending")
              .values(status="sent", sent_as=sa.bindparam("as_"), sent_at=sa.bindparam("at"),
                      last_error=sa.bindparam("detail")))
# Messages still waiting for one person: sending, or pending and due (or retried before).
_WAITING_FOR = sa.select(_outbox.c.id).where(
    _outbox.c.recipient == sa.bindparam("recipient"), _outbox.c.id < sa.bindparam("before_id"),
    sa.or_(_outbox.c.status == "sending",
           # a scheduled push (not_before, never tried) is not "earlier": it waits its turn
           sa.and_(_outbox.c.status == "pending",
                   sa.or_(_outbox.c.attempts > 0, _outbox.c.next_attempt_at <= sa.bindparam("now"))))).limit(50)


def enqueue_push(session: Session, *, to: str, replies: Sequence[Reply], idempotency_key: str,
                 origin: str | None = None, not_before: datetime | None = None) -> list[OutboundMessage]:
    """Queue a push, once per idempotency key (a repeated key is a no-op)."""
    existing = session.exec(select(OutboundMessage.id).where(
        OutboundMessage.idempotency_key == _key(idempotency_key, 0))).first()
    if existing is not None:
        return []
    rows = []
    for index, batch in enumerate(batches(to_line_messages(replies))):
        row = OutboundMessage(idempotency_key=_key(idempotency_key, index), kind="push", recipient=to,
                              messages=batch, origin=origin, next_attempt_at=not_before or utc_now())
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def enqueue_multicast(session: Session, *, to: Sequence[str], replies: Sequence[Reply],
                      idempotency_key: str, origin: str | None = None,
                      not_before: datetime | None = None) -> list[OutboundMessage]:
    """Queue one multicast per chunk of <= 500 recipients (LINE's multicast limit)."""
    messages = to_line_messages(replies)
    if len(messages) > 5:
        raise ValueError("a multicast carries at most 5 messages")
    rows = []
    recipients = list(dict.fromkeys(to))
    existing = set(session.exec(select(OutboundMessage.idempotency_key).where(
        OutboundMessage.idempotency_key.like(f"{idempotency_key}@%"))).all())
    for chunk_index in range(0, len(recipients), 500):
        key = f"{idempotency_key}@{chunk_index // 500}"
        if key in existing:
            continue  # this chunk was queued before (a resumed or repeated send)
        row = OutboundMessage(idempotency_key=key, kind="multicast", recipients=recipients[chunk_index:chunk_index + 500],
                              messages=messages, origin=origin, next_attempt_at=not_before or utc_now())
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def _by_person(rows: Sequence[ClaimedRow]) -> list[list[ClaimedRow]]:
    """The rows to send now (born claimed), grouped per person in their order."""
    by_person: dict[str, list[ClaimedRow]] = {}
    for row in rows:
        if row.status == "sending":
            by_person.setdefault(row.recipient or f"#{row.id}", []).append(row)
    return list(by_person.values())


class OutboxSender:
    MARK_EVERY_SECONDS = 0.05

    def __init__(self, *, database: Database, gateway: LineGateway, max_attempts: int = 8,
                 base_delay: float = 0.5, retry_window: timedelta = timedelta(hours=24)):
        self.database = database
        self.gateway = gateway
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.retry_window = retry_window
        # Rows delivered but not yet recorded as sent: {row id: (sent_as, sent_at, detail)}.
        self._unmarked: dict[int, tuple[str, datetime, str | None]] = {}
        self._marks_lock = threading.Lock()
        self._marker: threading.Thread | None = None
        self._marker_stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None  # sending threads, made on first use
        self._pool_lock = threading.Lock()

    # --- batched "sent" marks ------------------------------------------------------------------
    def start(self) -> None:
        if self._marker is not None:
            return
        self._marker_stop.clear()
        self._marker = threading.Thread(target=self._mark_loop, name="outbox-marks", daemon=True)
        self._marker.start()

    def stop(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        if self._marker is None:
            return
        self._marker_stop.set()
        self._marker.join(timeout=5)
        self._marker = None
        self.flush_marks()

    def _mark_loop(self) -> None:
        while not self._marker_stop.wait(self.MARK_EVERY_SECONDS):
            try:
                self.flush_marks()
            except Exception:  # the rows stay "sending"; recover_stuck settles them safely
                log.exception("could not record sent messages")

    def flush_marks(self) -> int:
        with self._marks_lock:
            marks = list(self._unmarked.items())
        if not marks:
            return 0
        with self.database.write_connection() as connection:
            connection.execute(_MARK_SENT, [
                {"row_id": row_id, "as_": sent_as, "at": sent_at, "detail": detail}
                for row_id, (sent_as, sent_at, detail) in marks])
        with self._marks_lock:
            for row_id, _ in marks:
                self._unmarked.pop(row_id, None)
        return len(marks)

    def _sent_unrecorded(self, row_ids: Iterable[int]) -> set[int]:
        with self._marks_lock:
            return {row_id for row_id in row_ids if row_id in self._unmarked}

    def enqueue_claimed_reply(self, session: Session, *, user_id: str | None, **kwargs) -> list[ClaimedRow]:
        """``enqueue_reply`` for the event hot path: the rows are born claimed so this worker
        sends them right after its commit — unless an earlier message to the same person is still
        waiting (a retry), in which case they queue behind it for the pump (order per person)."""
        claimed = not (user_id and self._waiting_for(session, recipient=user_id))
        return enqueue_reply(session, user_id=user_id, claimed=claimed, **kwargs)

    def _waiting_for(self, session: Session, *, recipient: str, before_id: int | None = None) -> bool:
        """Whether an earlier message to this person is still waiting (pending or sending): then a
        new one must wait too, or a retried message would arrive after a later one."""
        waiting = [row[0] for row in execute_on_driver(session, _WAITING_FOR, {
            "recipient": recipient, "before_id": before_id if before_id is not None else INT32_MAX,
            "now": utc_now()}).fetchall()]
        # Delivered rows whose "sent" is not written yet are not waiting.
        return bool(set(waiting) - self._sent_unrecorded(waiting))

    # --- claiming ----------------------------------------------------------------------------
    def _claim(self, row_id: int, *, now: datetime) -> OutboundMessage | None:
        with self.database.write_session() as session:
            result = session.execute(
                sa.update(OutboundMessage)
                .where(OutboundMessage.id == row_id, OutboundMessage.status == "pending",
                       OutboundMessage.next_attempt_at <= now)
                .values(status="sending", attempts=OutboundMessage.attempts + 1, next_attempt_at=now))
            if result.rowcount != 1:
                return None
            return session.get(OutboundMessage, row_id)

    def _recipient_blocked(self, session: Session, row: OutboundMessage) -> bool:
        """Skip pushes to people who unfollowed or asked us to stop processing (個資法 第3條)."""
        if row.kind not in ("push",) or not row.recipient:
            return False
        user = find_user(session, row.recipient)
        return user is not None and (not user.is_following or user.processing_stopped)

    # --- delivering --------------------------------------------------------------------------
    def deliver(self, row_ids: Iterable[int], *, now: datetime | None = None) -> int:
        sent = 0
        stalled: set[str] = set()  # a failed row holds back that person's later rows (order)
        for row_id in row_ids:
            row = self._claim(row_id, now=now or utc_now())
            if row is None:
                continue
            if row.recipient and (row.recipient in stalled or self._earlier_unsent(row)):
                self._unclaim(row)
                continue
            if self._attempt(row, now=now or utc_now()):
                sent += 1
            elif row.recipient:
                stalled.add(row.recipient)
        return sent

    def send_claimed(self, rows: Sequence[ClaimedRow], *, now: datetime | None = None) -> int:
        """Send rows this worker created already claimed (see ``enqueue_reply(claimed=True)``);
        rows created pending (queued behind an earlier message) are left to the pump. Each
        person's rows go in order; different people's at the same time (a batch of events holds
        one event per person): one after another, the last person of a 16-event batch waited
        for fifteen round trips to LINE before theirs started."""
        groups = _by_person(rows)
        if len(groups) <= 1:
            return sum(self._send_in_order(group, now) for group in groups)
        return sum(self._send_pool().map(lambda group: self._send_in_order(group, now), groups))

    def send_claimed_in_background(self, rows: Sequence[ClaimedRow], *, completion: Completion) -> None:
        """``send_claimed`` on the sending threads, returning at once; each person's rows are one
        part of ``completion``, finished once attempted. The event worker hands each committed
        batch over and goes on with the next: waiting for a batch's sends took a third of its
        threads' time at 200 events/s (py-spy, make bench e2e). The completion releases the
        batch's people, so a person's next replies still follow these."""
        def send(group: list[ClaimedRow]) -> None:
            try:
                self._send_in_order(group, None)
            except Exception:  # the rows stay "sending": recover_stuck settles them safely
                log.exception("sending a reply failed")
            finally:
                completion.finished()

        pool = self._send_pool()
        for group in _by_person(rows):
            completion.expect()
            pool.submit(send, group)

    def _send_in_order(self, rows: list[ClaimedRow], now: datetime | None) -> int:
        sent = 0
        for index, row in enumerate(rows):
            if not self._attempt(row, now=now or utc_now(), record_later=self._marker is not None):
                # Keep this person's order: later rows wait for the pump. They go back to pending
                # now — left "sending" they would wait for recover_stuck and return as ambiguous.
                for waiting in rows[index + 1:]:
                    self._unclaim(waiting)
                break
            sent += 1
        return sent

    def _send_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                # Threads mostly wait on LINE's API; the gateway keeps 16 connections per host.
                self._pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="outbox-send")
            return self._pool

    def _earlier_unsent(self, row: OutboundMessage) -> bool:
        with self.database.session() as session:
            return self._waiting_for(session, recipient=row.recipient, before_id=row.id)

    def _unclaim(self, row: OutboundMessage) -> None:
        with self.database.write_session() as session:
            session.execute(sa.update(OutboundMessage).where(OutboundMessage.id == row.id)
                            .values(status="pending", attempts=OutboundMessage.attempts - 1))

    def deliver_due(self, *, limit: int = 500, now: datetime | None = None) -> int:
        """Send what is due, oldest first, keeping each recipient's messages in order."""
        now = now or utc_now()
        with self.database.session() as session:
            candidates = session.exec(
                select(OutboundMessage.id, OutboundMessage.recipient, OutboundMessage.status,
                       OutboundMessage.next_attempt_at, OutboundMessage.attempts)
                .where(OutboundMessage.status.in_(("pending", "sending")))
                .order_by(OutboundMessage.id).limit(limit * 4)).all()
        held: set[str] = set()
        due: list[int] = []
        delivered = self._sent_unrecorded(row[0] for row in candidates)
        for row_id, recipient, status, next_at, attempts in candidates:
            if row_id in delivered or (recipient and recipient in held):
                continue
            if status == "pending" and next_at <= now:
                due.append(row_id)
            elif recipient and (status == "sending" or attempts > 0):
                held.add(recipient)  # an earlier message to this person is being retried
            # (a push scheduled for later, never tried, holds nothing back)
            if len(due) >= limit:
                break
        return self.deliver(due, now=now)

    def recover_stuck(self, *, older_than: timedelta = timedelta(seconds=20)) -> int:
        """Rows left 'sending' by a crashed process go back to pending; a reply among them is
        marked ambiguous (it may have been delivered). The lease is longer than one HTTP attempt
        (LINE_HTTP_TIMEOUT) but short enough that a reply token is usually still fresh: retrying
        the reply then tells delivered ("invalid token": consumed) from not delivered."""
        cutoff = utc_now() - older_than
        with self.database.write_session() as session:
            stuck = session.exec(select(OutboundMessage).where(
                OutboundMessage.status == "sending", OutboundMessage.next_attempt_at <= cutoff)).all()
            for row in stuck:
                row.status = "pending"
                if row.kind == "reply":
                    row.ambiguous_reply = True
                session.add(row)
            return len(stuck)

    def _attempt(self, row: OutboundMessage, *, now: datetime, record_later: bool = False) -> bool:
        if row.kind == "push" and row.recipient:  # replies answer the person who just wrote
            with self.database.session() as session:
                blocked = self._recipient_blocked(session, row)
            if blocked:
                self._finish(row.id, status="cancelled", error="recipient unfollowed or stopped")
                return False
        result, sent_as = self._send(row, now=now)
        if result.ok:
            if record_later:
                with self._marks_lock:
                    self._unmarked[row.id] = (sent_as, utc_now(), (result.detail or None) and result.detail[:500])
            else:
                self._finish(row.id, status="sent", sent_as=sent_as, error=result.detail or None)
            return True
        if result.outcome == "ambiguous" and row.kind == "reply":
            self._retry(row, result, ambiguous_reply=True)
        elif result.outcome in ("retry", "ambiguous"):
            self._retry(row, result)
        else:
            self._finish(row.id, status="dead", error=f"{result.status}: {result.detail}")
        return False

    def _send(self, row: OutboundMessage, *, now: datetime) -> tuple[SendResult, str]:
        if row.kind == "reply":
            fresh = row.reply_token_received_at and now - row.reply_token_received_at < REPLY_TOKEN_TTL
            if row.reply_token and fresh:
                result = self.gateway.reply(reply_token=row.reply_token, messages=row.messages)
                if result.outcome != "invalid_reply_token":
                    return result, "reply"
                if row.ambiguous_reply:
                    # Our earlier attempt consumed the token: it was delivered.
                    return SendResult("ok", result.status, "reply consumed by earlier attempt"), "reply"
            elif row.ambiguous_reply:
                # Unknown outcome and the token can no longer tell us: do not risk a duplicate.
                return SendResult("ok", None, "reply outcome unknown; token expired"), "reply"
            if not row.recipient:
                return SendResult("permanent", None, "reply token unusable and no user to push to"), "reply"
            return self.gateway.push(to=row.recipient, messages=row.messages, retry_key=row.retry_key), "push"
        if row.kind == "push":
            return self.gateway.push(to=row.recipient, messages=row.messages, retry_key=row.retry_key), "push"
        if row.kind == "multicast":
            recipients = self._active_recipients(row.recipients or [])
            if not recipients:
                return SendResult("ok", None, "no active recipients"), "multicast"
            return self.gateway.multicast(to=recipients, messages=row.messages, retry_key=row.retry_key), "multicast"
        if row.kind == "broadcast":
            return self.gateway.broadcast(messages=row.messages, retry_key=row.retry_key), "broadcast"
        return SendResult("permanent", None, f"unknown kind {row.kind}"), row.kind

    def _active_recipients(self, recipients: list[str]) -> list[str]:
        with self.database.session() as session:
            inactive = set(session.exec(select(User.line_user_id).where(
                User.line_user_id.in_(recipients),
                sa.or_(User.is_following.is_(False), User.processing_stopped.is_(True)))).all())
        return [r for r in recipients if r not in inactive]

    def _retry(self, row: OutboundMessage, result: SendResult, *, ambiguous_reply: bool = False) -> None:
        # A retryable failure (5xx, 429, network) means LINE is unwell, not that the message is
        # wrong: give up only after max_attempts AND retry_window, or an outage longer than the
        # backoff's few minutes would silently drop everything queued (found by
        # tests/test_resilience_line_faults.py). Delays are capped at 300 s meanwhile.
        created = row.created_at or utc_now()
        if row.attempts >= self.max_attempts and utc_now() - created >= self.retry_window:
            self._finish(row.id, status="dead", error=f"gave up after {row.attempts}: {result.status} {result.detail}")
            return
        delay = result.retry_after or self.base_delay * (2 ** min(row.attempts - 1, 20))
        delay = min(delay, 300) * (1 + random.random() * 0.2)  # jitter spreads retries out
        with self.database.write_session() as session:
            values = {"status": "pending", "next_attempt_at": utc_now() + timedelta(seconds=delay),
                      "last_error": f"{result.status}: {result.detail}"[:500]}
            if ambiguous_reply:
                values["ambiguous_reply"] = True
            session.execute(sa.update(OutboundMessage).where(OutboundMessage.id == row.id).values(**values))

    def _finish(self, row_id: int, *, status: str, sent_as: str | None = None, error: str | None = None) -> None:
        with self.database.write_session() as session:
            values = {"status": status, "last_error": (error or None) and error[:500]}
            if status == "sent":
                values.update(sent_at=utc_now(), sent_as=sent_as)
            session.execute(sa.update(OutboundMessage).where(OutboundMessage.id == row_id).values(**values))
