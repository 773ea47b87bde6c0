"""Master + 2 worker processes: merged percentiles equal those of the union of raw records."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from helpers import CHAT_LOCUSTFILE, free_port, locust_cmd

pytestmark = pytest.mark.integration

# merged-histogram error: 0.5 % bucket error, plus rank ties at bucket edges
REL_TOL = 0.01


def test_master_and_two_workers_merge_exactly(sim_factory, tmp_path):
    sim = sim_factory("--preset", "default")
    port = free_port()
    results = tmp_path / "results"
    common = ("--input-tokens", "64", "--output-tokens", "48")
    workers = [
        subprocess.Popen(
            locust_cmd(CHAT_LOCUSTFILE, sim.url, "--worker", "--master-port", str(port), *common),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for _ in range(2)
    ]
    try:
        master = subprocess.run(
            locust_cmd(CHAT_LOCUSTFILE, sim.url, "--master", "--master-bind-host", "127.0.0.1",
                       "--master-bind-port", str(port), "--expect-workers", "2", "--headless",
                       "-u", "24", "-r", "24", "-t", "8s", "--warmup", "2",
                       "--stop-timeout", "10", "--results-dir", str(results),
                       "--run-id", "dist", *common),
            capture_output=True, text=True, timeout=120,
        )
    finally:
        worker_out = [w.communicate(timeout=30)[0] for w in workers]
    assert master.returncode == 0, master.stderr[-3000:] + "\n".join(worker_out)[-2000:]
    summary = json.loads((results / "dist" / "summary.json").read_text())
    rows = pd.read_csv(results / "dist" / "requests.csv")
    measured = rows[rows["phase"] == "measure"]

    assert len(summary["workers"]) == 2
    assert measured["worker"].nunique() == 2, "rows from both workers"
    req = summary["requests"]
    assert req["sent"] == req["ok"] + req["failed"] + req["interrupted"]
    assert req["ok"] + req["failed"] == len(measured)
    assert req["ok"] > 100

    ok = measured[measured["status"] == "ok"]["ttft_ms"].to_numpy()
    merged = summary["metrics"]["ttft_ms"]
    assert merged["count"] == len(ok)
    for q, key in ((50, "p50"), (99, "p99")):
        exact = float(np.percentile(ok, q, method="inverted_cdf"))
        assert merged[key] == pytest.approx(exact, rel=REL_TOL), (key, merged[key], exact)
