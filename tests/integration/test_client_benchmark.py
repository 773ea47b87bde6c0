"""The client-capacity benchmark runs end to end on a tiny setting and writes its JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import REPO

pytestmark = pytest.mark.integration

ROW_KEYS = {
    "mode", "streams", "client", "repeats", "tokens_per_s", "client_cpu_pct",
    "client_us_per_token", "sim_cpu_pct", "sim_us_per_token", "itl_err_p50_ms", "itl_err_p99_ms",
    "ttft_err_p50_ms", "ttft_err_p99_ms", "late_p50_ms", "late_p99_ms", "sim_timer_err_p99_ms",
    "foreign_cpu_pct",
}  # fmt: skip


def test_benchmark_tiny_run_writes_every_figure(tmp_path):
    out = tmp_path / "cc.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "client_capacity.py"),
            "--streams",
            "8",
            "--repeats",
            "1",
            "--window",
            "1",
            "--ramp",
            "0.4",
            "--settle",
            "0.2",
            "--output-tokens",
            "24",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    rows = result["rows"]
    clients = {"raw", "aiohttp", "tokenswarm"}
    assert {(r["mode"], r["client"]) for r in rows} == {
        *(("independent", c) for c in clients),
        *(("burst", c) for c in clients | {"tokenswarm-nokts"}),
    }
    for row in rows:
        assert set(row) >= ROW_KEYS, row
        # CPU comes in 10 ms ticks: a light client may read 0 in a 1 s window
        assert row["tokens_per_s"] > 0 and row["client_us_per_token"] >= 0, row
        assert row["itl_err_p99_ms"] is not None and row["ttft_err_p99_ms"] is not None, row
    summary = result["summary"]
    assert set(summary["cpu_ratio"]["independent"]["8"]) == {"vs_raw", "vs_aiohttp"}
    assert set(summary["max_tokens_per_s_p99_itl_err_under_1ms"]) == {"independent", "burst"}
    assert summary["sim_tokens_per_s_per_core"]["burst"] > 0
    assert set(summary["peers"]) == {"guidellm", "aiperf"}
    assert "CPU per token, tokenswarm / reference" in proc.stdout
    assert "guidellm: " in proc.stdout and "aiperf: " in proc.stdout
