"""Per-user flood handling: one person sending 50 messages a second is slowed politely, nobody
else is slowed, and no message is lost.

* Fairness and pacing (``FloodGuard``, used by ``bot.events.EventWorker``): each person's events
  wait in their own queue and the worker threads take people in turn, so a backlog only delays its
  owner. Past ``max_events`` in ``window_seconds`` a person's next event waits ``pace_seconds``
  (on a timer, not on a worker thread).
* A single notice (``flood_notice_due``, used by the dispatcher): the event that crosses the limit
  gets core.slow_down in front of its answer; every event is still processed, in order. The count
  comes from the stored events' receive times, so it is the same in every process and on every
  redelivery (exactly one event of a burst carries the notice).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session

from bot.db import execute_on_driver
from bot.models import InboundEvent

WINDOW_SECONDS = 10.0
MAX_EVENTS = 20  # LINE may batch a person's quick taps; 20 in 10 s is a flood
PACE_SECONDS = 0.1


class FloodGuard:
    """In-process pacing: how long a person's next event should wait (0 for everyone normal)."""

    def __init__(self, *, window_seconds: float = WINDOW_SECONDS, max_events: int = MAX_EVENTS,
                 pace_seconds: float = PACE_SECONDS, clock=time.monotonic):
        self.window = window_seconds
        self.max_events = max_events
        self.pace = pace_seconds
        self.clock = clock
        self._seen: dict[str, deque] = {}
        self._lock = threading.Lock()

    def record(self, user_key: str) -> float:
        """Note that one of this person's events was handled; returns the wait before their next."""
        now = self.clock()
        with self._lock:
            seen = self._seen.setdefault(user_key, deque())
            seen.append(now)
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) <= self.max_events:
                if not seen:
                    self._seen.pop(user_key, None)
                return 0.0
            return self.pace

    def forget_idle(self) -> None:
        now = self.clock()
        with self._lock:
            for key in [k for k, seen in self._seen.items() if not seen or seen[-1] <= now - self.window]:
                del self._seen[key]


_events = InboundEvent.__table__
# Built once (this runs for every message): events of one person received in (after, until].
_COUNT_IN_WINDOW = sa.select(sa.func.count()).select_from(_events).where(
    _events.c.line_user_id == sa.bindparam("user_id"), _events.c.id <= sa.bindparam("up_to_id"),
    _events.c.received_at > sa.bindparam("after"), _events.c.received_at <= sa.bindparam("until"))


def flood_notice_due(session: Session, *, event_id: int, user_id: str | None, received_at,
                     window_seconds: float = WINDOW_SECONDS, max_events: int = MAX_EVENTS) -> bool:
    """True for exactly the event that makes this person's (max_events + 1)-th in the window."""
    if not user_id or received_at is None:
        return False
    window = timedelta(seconds=window_seconds)
    count = execute_on_driver(session, _COUNT_IN_WINDOW, {"user_id": user_id, "up_to_id": event_id,
                                                          "after": received_at - window,
                                                          "until": received_at}).fetchone()[0]
    if count != max_events + 1:
        return False
    # Only the first crossing of a burst: no notice if the window before this burst was busy too.
    earlier = execute_on_driver(session, _COUNT_IN_WINDOW, {"user_id": user_id, "up_to_id": event_id - 1,
                                                            "after": received_at - 2 * window,
                                                            "until": received_at - window}).fetchone()[0]
    return earlier <= max_events
