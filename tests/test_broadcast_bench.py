"""The broadcast benchmark runs end to end (small scale here; ``make bench`` runs 100,000)."""
from bench.broadcast import run_broadcast_bench


def test_bench_small_run_has_no_duplicates_even_with_lost_answers():
    result = run_broadcast_bench(recipients=2_100, latency=0.0, lost_answers=2)
    assert result["chunks"] == 5 and result["delivered"] == 2_100
    assert result["duplicates"] == 0 and result["missing"] == 0
    assert result["requests"] == 7  # 5 chunks + 2 retries answered 409 (same retry key)
    assert result["report"]["sent"] == 2_100 and result["report"]["state"] == "done"
