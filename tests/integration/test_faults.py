"""Fault injection: every injected fault lands in its failure class, counts match the sim's."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

# simulator fault kind -> the failure class the load generator must report
EXPECTED_CLASS = {
    "http_429": "http_429",
    "http_500": "http_500",
    "http_503": "http_503",
    "stream_truncated": "stream_truncated",
    "malformed_event": "malformed_event",
    "stall": "timeout_idle",
    "slow_headers": "timeout_first_token",
}


def test_each_injected_fault_is_classified_and_counted(sim_factory, run_locust):
    sim = sim_factory(
        "--preset", "default", "--seed", "7",
        "--fault-429", "0.05", "--fault-500", "0.04", "--fault-503", "0.04",
        "--fault-cut", "0.05", "--fault-malformed", "0.05",
        "--fault-stall", "0.04", "--stall-s", "1.5",
        "--fault-slow-headers", "0.04", "--slow-headers-s", "1.5",
    )
    run = run_locust(
        sim.url, "-u", "16", "-r", "16", "-t", "8s", "--warmup", "0", "--stop-timeout", "10",
        "--input-tokens", "32", "--output-tokens", "32",
        "--idle-timeout", "0.5", "--first-token-timeout", "0.8",
    )
    # Locust exits 1 when requests failed; it must not crash (2) or hang (timeout)
    assert run.proc.returncode == 1, run.output[-3000:]
    assert "Traceback" not in run.output, run.output[-3000:]
    summary = run.summary()
    stats = sim.stats()
    faults = stats["faults"]
    assert all(faults[kind] > 0 for kind in EXPECTED_CLASS), faults
    expected = {EXPECTED_CLASS[kind]: n for kind, n in faults.items() if n}
    assert summary["errors"] == expected
    req = summary["requests"]
    assert req["failed"] == sum(expected.values())
    assert req["interrupted"] == 0
    assert req["sent"] == req["ok"] + req["failed"] == stats["requests_total"]
    # the failures are in requests.csv too, with their class
    rows = run.requests_csv()
    assert rows[rows["status"] == "error"]["error_class"].value_counts().to_dict() == expected
