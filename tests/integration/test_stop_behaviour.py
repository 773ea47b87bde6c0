"""How runs end: nothing lost at the stop, nothing hanging, Ctrl-C keeps what was measured."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from helpers import wait_for

pytestmark = pytest.mark.integration


def test_users_waiting_for_their_first_token_stop_at_the_run_time(sim_factory, run_locust):
    """Killed in prefill: counted as interrupted, the run ends on time, no traceback."""
    sim = sim_factory("--preset", "fixed", "--ttft-ms", "3000", "--itl-ms", "20")
    run = run_locust(sim.url, "-u", "4", "-r", "4", "-t", "2s", "--output-tokens", "8",
                     timeout=30)
    assert run.proc.returncode == 0, run.output[-3000:]
    assert "Traceback" not in run.output
    req = run.summary()["requests"]
    assert req == req | {"sent": 4, "ok": 0, "failed": 0, "interrupted": 4}


def test_processes_with_stop_timeout_lose_nothing(sim_factory, run_locust):
    """Workers drain in-flight requests after the run time; the master waits for their data."""
    sim = sim_factory("--preset", "fixed", "--ttft-ms", "80", "--itl-ms", "20")
    run = run_locust(sim.url, "-u", "32", "-r", "32", "-t", "5s", "--warmup", "1",
                     "--processes", "2", "--stop-timeout", "10", "--output-tokens", "64")
    assert run.proc.returncode == 0, run.output[-3000:]
    summary = run.summary()
    req = summary["requests"]
    served = sim.stats()["requests_finished"]
    assert req["sent"] + req["warmup_excluded"] == served
    assert req["sent"] == req["ok"] + req["failed"] + req["interrupted"]
    assert req["interrupted"] == 0  # every in-flight stream finished within the stop timeout
    assert len(run.requests_csv()) == served
    assert "workers_lost" not in summary["config"]


def test_sigint_to_the_run_command_stops_gracefully(tmp_path):
    """kill -INT of `tokenswarm run` alone: Locust drains, the simulator outlives the drain."""
    cmd = [sys.executable, "-m", "tokenswarm", "run", "-u", "4", "-t", "120s", "--warmup", "0",
           "--output-tokens", "200", "--run-id", "sig", "--results-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    csv_path = tmp_path / "sig" / "requests.csv"
    try:
        # requests.csv gets rows once the first requests completed: the run is under way
        wait_for(lambda: csv_path.is_file() and len(csv_path.read_text().splitlines()) > 4,
                 60, "completed requests")
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60)[0]
    finally:
        proc.kill()
    assert proc.returncode == 0, output[-3000:]
    assert "Traceback" not in output
    summary = json.loads((tmp_path / "sig" / "summary.json").read_text())
    assert summary["errors"] == {}, "in-flight streams finished instead of being cut"
    assert summary["requests"]["ok"] >= 4
    assert "tokenswarm results: run sig" in output
