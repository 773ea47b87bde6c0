"""InfluxDB trouble never costs the load test: a server killed mid-run, one down at start, and
the configuration mistakes that stop a run before any load with one line saying what to fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO, free_port, locust_cmd, wait_for
from influxd import Influxd, InfluxDb

from tokenswarm.influx import schema

pytestmark = pytest.mark.integration
# the locustfile `tokenswarm run` uses: it registers the InfluxDB sink
LOCUSTFILE = str(REPO / "src" / "tokenswarm" / "loadgen" / "locustfile.py")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSWARM_")}
    return {**env, "TOKENSWARM_PRINT_TABLE": "0", **extra}


def _run_cmd(host: str, results: Path, run_id: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "tokenswarm", "run", "--host", host, "-u", "6", "--warmup",
            "1", "--input-tokens", "32", "--output-tokens", "32", "--run-id", run_id,
            "--results-dir", str(results), *args]


def _complete(run_dir: Path) -> dict:
    """The results directory is complete and consistent; returns the summary."""
    summary = json.loads((run_dir / "summary.json").read_text())
    csv = pd.read_csv(run_dir / "requests.csv")
    assert (run_dir / "stages.csv").is_file()
    assert summary["requests"]["csv_rows"] == len(csv) > 10
    return summary


def test_influxdb_killed_mid_run(own_influxd: Influxd, sim_factory, tmp_path: Path):
    sim = sim_factory("--base-ms", "8")
    db = InfluxDb(own_influxd.url, f"t_{uuid.uuid4().hex[:8]}").create()
    env = _env(TOKENSWARM_INFLUX_URL=db.url, TOKENSWARM_INFLUX_DATABASE=db.name)
    started = time.monotonic()
    proc = subprocess.Popen(_run_cmd(sim.url, tmp_path, "outage", "-t", "6s", "--workers", "1"),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: db.count(schema.REQUEST.name, "users") > 0, 30, "request points")
        own_influxd.stop()
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, output[-3000:]
    summary = _complete(tmp_path / "outage")
    block = summary["influx"]
    assert block["points_dropped"] > 0 and block["points_written"] > 0, block
    assert block["processes"] == 2 and block["workers_unreported"] == []
    assert "dropped" in output and f"{block['points_dropped']} dropped" in output
    # the end of the run waited at most ~2 s per writer for the dead server, not its retries
    assert elapsed < 6 + 25, elapsed


def test_unreachable_at_start_warns_and_runs(sim_factory, tmp_path: Path):
    sim = sim_factory("--base-ms", "8")
    url = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.run(_run_cmd(sim.url, tmp_path, "down", "-t", "3s"),
                          env=_env(TOKENSWARM_INFLUX_URL=url), capture_output=True, text=True,
                          timeout=90, stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert f"InfluxDB at {url} is unreachable" in output and "the run goes on" in output
    block = _complete(tmp_path / "down")["influx"]
    assert block["points_written"] == 0 and block["points_dropped"] > 0


def _locust_error(host: str, tmp_path: Path, *args: str) -> str:
    cmd = locust_cmd(LOCUSTFILE, host, "--headless", "-u", "1", "-t", "1s", "--results-dir",
                     str(tmp_path), *args)
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("tokenswarm: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "summary.json").exists()
    return errors[0]


def test_start_up_mistakes_stop_the_run_with_one_line(influxd: Influxd, sim_factory,
                                                      tmp_path: Path):
    sim = sim_factory()
    missing = _locust_error(sim.url, tmp_path, "--influx-url", influxd.url,
                            "--influx-database", "no_such_db")
    assert "'no_such_db' does not exist" in missing and "CREATE DATABASE" in missing
    v2 = _locust_error(sim.url, tmp_path, "--influx-url", influxd.url, "--influx-bucket", "b",
                       "--influx-token", "t", "--influx-api", "v2")
    assert "no /api/v2 endpoints" in v2 and "database" in v2
    dead = f"http://127.0.0.1:{free_port()}"
    required = _locust_error(sim.url, tmp_path, "--influx-url", dead, "--influx-required")
    assert "unreachable" in required and "--influx-required" in required
    bad = _locust_error(sim.url, tmp_path, "--influx-url", "localhost:8086")
    assert "http://host:8086" in bad
