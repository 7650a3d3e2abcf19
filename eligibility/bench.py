"""Decision-time benchmark, called by the lead's `make bench`.

Times `evaluate` (engine only) and validation + evaluate (what the API does per
request) over a mix of single-business and 20-member roster answers.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .engine import evaluate, load_programs
from .routes import DEFAULT_PROGRAMS_FILE
from .schemas import check_request

_ROSTER = [{"name": f"店{i}", "owner": f"負責人{i}", "sme_standard": i % 5 != 0,
            "small_business": i % 5 == 0, "coached_last_year": i == 0} for i in range(20)]
SAMPLES: list[dict[str, Any]] = [
    {"program": "gonghao-2023", "answers": {"registration": "company", "employees": 3,
                                             "prior_funding": [], "tax_id": "21556433"}},
    {"program": "gonghao-2023", "answers": {"registration": "tax_only", "employees": 11,
                                             "track": "integration",
                                             "prior_funding": ["cloud_gen"]}},
    {"program": "cluster-2022", "answers": {"category": "A", "members": _ROSTER}},
    {"program": "cluster-2022", "answers": {"category": "B", "participated_last_year": True,
                                             "previous_roster_size": 18,
                                             "members": [dict(m, original_member=i < 14)
                                                         for i, m in enumerate(_ROSTER)]}},
]


def benchmark_decisions(n: int = 10_000, *, programs_file: str | Path | None = None) -> dict:
    programs = load_programs(programs_file or DEFAULT_PROGRAMS_FILE)
    checked = [check_request(body=s, programs=programs) for s in SAMPLES]

    start = time.perf_counter()
    for i in range(n):
        c = checked[i % len(checked)]
        evaluate(program=c.program, answers=c.answers)
    engine_s = time.perf_counter() - start

    start = time.perf_counter()
    for i in range(n):
        c = check_request(body=SAMPLES[i % len(SAMPLES)], programs=programs)
        evaluate(program=c.program, answers=c.answers)
    full_s = time.perf_counter() - start

    per_case = []  # p99 per request shape, one timing per call
    for body in SAMPLES:
        timings = []
        for _ in range(max(1, n // len(SAMPLES))):
            t0 = time.perf_counter()
            c = check_request(body=body, programs=programs)
            evaluate(program=c.program, answers=c.answers)
            timings.append(time.perf_counter() - t0)
        timings.sort()
        per_case.append({"program": body["program"],
                         "category": body["answers"].get("category"),
                         "members": len(body["answers"].get("members", [])),
                         "median_ms": timings[len(timings) // 2] * 1000,
                         "p99_ms": timings[int(len(timings) * 0.99) - 1 if len(timings) > 1 else 0]
                         * 1000})

    return {
        "decisions": n,
        "per_case": per_case,
        "engine_mean_ms": engine_s / n * 1000,
        "validate_and_decide_mean_ms": full_s / n * 1000,
        "under_1ms": full_s / n < 0.001,
    }


if __name__ == "__main__":
    print(json.dumps(benchmark_decisions(), indent=2))
