"""One thread for every "call this in N seconds unless cancelled" of a process (the loading
animation for each event, a flooding person's next turn): a threading.Timer per use cost a thread
start — and a hand-over of the GIL — on every message."""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)


class Alarms:
    """Calls due after a delay, on one thread. Resolution 0.1 s: plenty for an animation shown after
    0.8 s or a flood pause."""

    RESOLUTION = 0.1

    def __init__(self):
        self._due: list[tuple[float, int, Callable, dict]] = []
        self._cancelled: set[int] = set()
        self._cond = threading.Condition()
        self._numbers = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, delay: float, call: Callable, **kwargs) -> int:
        number = next(self._numbers)
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="alarms", daemon=True)
                self._thread.start()
            heapq.heappush(self._due, (time.monotonic() + delay, number, call, kwargs))
            if len(self._due) == 1:
                self._cond.notify()  # it slept with nothing to do
        return number

    def cancel(self, number: int | None) -> None:
        """Drop a scheduled call; None (nothing was scheduled) is a no-op."""
        if number is None:
            return
        with self._cond:
            self._cancelled.add(number)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._due:
                    self._cond.wait()
                now = time.monotonic()
                fire = []
                while self._due and self._due[0][0] <= now:
                    _, number, call, kwargs = heapq.heappop(self._due)
                    if number in self._cancelled:
                        self._cancelled.discard(number)
                    else:
                        fire.append((call, kwargs))
                if not fire:
                    self._cond.wait(max(self.RESOLUTION, self._due[0][0] - now) if self._due else None)
                    continue
            for call, kwargs in fire:
                try:
                    call(**kwargs)
                except Exception:
                    log.exception("scheduled call failed")
