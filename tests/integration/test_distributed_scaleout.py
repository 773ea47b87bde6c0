"""Master + 4 worker processes (``tokenswarm master`` / ``tokenswarm worker``) against the
simulated engine: the merged results are exactly the union of what the workers recorded, users
are spread evenly, and a worker with another tokenswarm version is refused in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from helpers import free_port
from record_dumps import peak_concurrency, read_dumps

from tokenswarm.launch.nodes import worker_command

pytestmark = pytest.mark.integration

REL_TOL = 0.01  # merged-histogram error: 0.5 % buckets plus rank ties at bucket edges
TOKENSWARM = (sys.executable, "-m", "tokenswarm")


def _master(port: int, workers: int, host: str, results, *locust_args: str):
    return [
        *TOKENSWARM,
        "master",
        "--expect-workers",
        str(workers),
        "--bind-host",
        "127.0.0.1",
        "--bind-port",
        str(port),
        "--wait-workers",
        "60",
        "--",
        "--host",
        host,
        "--results-dir",
        str(results),
        *locust_args,
        "OpenAIChatUser",
    ]


def _worker(port: int, processes: int = 1) -> list[str]:
    return [
        *TOKENSWARM,
        "worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(port),
        "--processes",
        str(processes),
    ]


def test_four_workers_merge_is_the_union_of_their_records(sim_factory, tmp_path):
    sim = sim_factory("--preset", "default")
    port, dumps, results = free_port(), tmp_path / "dumps", tmp_path / "results"
    workers = subprocess.Popen(
        _worker(port, processes=4), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        master = subprocess.run(
            _master(
                port,
                4,
                sim.url,
                results,
                "-u",
                "8",
                "-r",
                "8",
                "-t",
                "6s",
                "--warmup",
                "1",
                "--stop-timeout",
                "10",
                "--run-id",
                "four",
                "--output-tokens",
                "32",
                "--input-tokens",
                "32",
                "--dump-records",
                str(dumps),
            ),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        worker_out = workers.communicate(timeout=30)[0]
    assert master.returncode == 0, master.stderr[-3000:] + worker_out[-2000:]

    per_worker = read_dumps(dumps)
    assert len(per_worker) == 4, f"one dump per worker process: {sorted(per_worker)}"
    # users spread evenly: 8 closed-loop users over 4 workers -> 2 streams in flight on each
    assert [peak_concurrency(recs) for recs in per_worker.values()] == [2, 2, 2, 2]
    counts = [len(recs) for recs in per_worker.values()]
    assert min(counts) >= 0.8 * max(counts), counts

    union = pd.DataFrame([r for recs in per_worker.values() for r in recs])
    rows = pd.read_csv(results / "four" / "requests.csv")
    key = ["worker", "start_unix_ns", "output_tokens"]
    merged = rows[key].sort_values(key).reset_index(drop=True)
    raw = (
        union.rename(columns={"start_wall_ns": "start_unix_ns"})[key]
        .sort_values(key)
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(merged, raw, check_dtype=False)

    summary = json.loads((results / "four" / "summary.json").read_text())
    measured = union[union["stage"].notna()]
    ok = measured[measured["error_class"].isna()]
    assert summary["requests"]["ok"] == len(ok) > 50
    assert summary["requests"]["failed"] == len(measured) - len(ok)
    assert summary["requests"]["warmup_excluded"] == len(union) - len(measured)
    assert summary["tokens"]["output_tokens"] == int(ok["output_tokens"].sum())
    assert len(summary["workers"]) == 4
    ttft = summary["metrics"]["ttft_ms"]
    assert ttft["count"] == len(ok)
    for q, name in ((50, "p50"), (99, "p99")):
        exact = float(np.percentile(ok["ttft_ms"], q, method="inverted_cdf"))
        assert ttft[name] == pytest.approx(exact, rel=REL_TOL), (name, ttft[name], exact)


def test_worker_with_another_version_is_refused(sim_factory, tmp_path):
    sim = sim_factory("--preset", "default")
    port, results = free_port(), tmp_path / "results"
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text("import tokenswarm\ntokenswarm.__version__ = '9.9.9'\n")
    path = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    # the exact Locust command `tokenswarm worker` runs (the refusal happens inside Locust)
    bad = subprocess.Popen(
        worker_command("127.0.0.1", port, 1),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    good = subprocess.Popen(_worker(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        master = subprocess.run(
            _master(
                port,
                1,
                sim.url,
                results,
                "-u",
                "2",
                "-t",
                "3s",
                "--warmup",
                "0",
                "--stop-timeout",
                "5",
                "--run-id",
                "refuse",
            ),
            capture_output=True,
            text=True,
            timeout=90,
        )
        _, bad_err = bad.communicate(timeout=30)
    finally:
        for proc in (bad, good):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert bad.returncode == 2
    refusal = [line for line in bad_err.splitlines() if line.startswith("tokenswarm: error:")]
    assert len(refusal) == 1 and "tokenswarm 9.9.9" in refusal[0], bad_err[-2000:]
    assert "Traceback" not in bad_err
    assert "refused" in master.stderr
    assert master.returncode == 0, master.stderr[-3000:]
    summary = json.loads((results / "refuse" / "summary.json").read_text())
    assert len(summary["workers"]) == 1 and summary["requests"]["ok"] > 0
