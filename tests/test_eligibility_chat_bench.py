"""A conversation step's server time (the pure part of a webhook turn) stays under 50 ms."""
from eligibility.bench_chat import benchmark_steps


def test_step_time_under_target():
    result = benchmark_steps(20)
    assert result["reached_verdict"] == 20  # the scripted intake really reaches the verdict
    assert result["steps"] == 20 * 11
    assert result["p95_ms"] < result["target_ms"]
