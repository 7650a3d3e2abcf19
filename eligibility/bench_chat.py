"""Server time of one 「我符合資格嗎？」 conversation step (target < 50 ms), for `make bench`.

Calls ``dialogs.framework.advance`` on the eligibility flow directly (the pure part of a webhook
turn: parsing, the engine's next-question analysis, building the reply), over a whole intake.
"""
from __future__ import annotations

import statistics
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import bot  # noqa: F401  (bot first: dialogs.framework and bot import each other)
from dialogs import framework as fw

from .engine import load_programs
from .routes import DEFAULT_PROGRAMS_FILE

# One owner's answers as typed, start to verdict (typed text exercises the free-text parsers).
SCRIPT = ("有公司登記", "五個人", "都沒有", "不是", "21556433", "小明咖啡有限公司", "台北市大安區",
          "餐飲", "手沖咖啡", "確認")


def benchmark_steps(n: int = 200) -> dict:
    """Run ``n`` whole intakes; per-step timings in milliseconds."""
    from . import flows

    services = SimpleNamespace(programs=load_programs(DEFAULT_PROGRAMS_FILE), config={},
                               public_url=lambda path: path)
    flow = flows.ELIGIBILITY
    timings: list[float] = []
    finished = 0
    for i in range(n):
        flows._ANALYSIS.clear()  # measure cold: every intake has fresh answers in production
        ctx = fw.Context(user_id=f"Ubench{i}", now=datetime.now(timezone.utc), consented=True, services=services)
        started = time.perf_counter()
        turn = fw.start(flow, ctx)
        timings.append((time.perf_counter() - started) * 1000)
        for text in SCRIPT:
            started = time.perf_counter()
            turn = fw.advance(flow, turn.ctx, fw.UserInput.text_input(text))
            timings.append((time.perf_counter() - started) * 1000)
        finished += bool(turn.finish)
    timings.sort()
    return {"steps": len(timings), "intakes": n, "reached_verdict": finished,
            "mean_ms": round(statistics.fmean(timings), 3),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 3),
            "max_ms": round(timings[-1], 3), "target_ms": 50}


if __name__ == "__main__":
    print(benchmark_steps())
