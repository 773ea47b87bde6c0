"""``tokenswarm sweep``: real sweeps against the simulated engine (stages, workers, saturation,
stop, bad input)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import REPO, free_port, wait_for

pytestmark = pytest.mark.integration

SWEEP = [sys.executable, "-m", "tokenswarm", "sweep"]
SWEEP_LOCUSTFILE = REPO / "locustfiles" / "sweep.py"


def _sweep(tmp_path: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    proc = subprocess.run([*SWEEP, "--results-dir", str(tmp_path), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=tmp_path)
    return proc


def test_two_scenarios_three_levels_with_workers(tmp_path):
    """2 scenarios x 3 levels through a master and 2 workers: every stage measured, requests
    attributed to the right stage with the scenario's lengths, results and report written."""
    proc = _sweep(tmp_path, "-s", "short:1,2,4", "-s", "medium:1,2,4", "--duration", "3s",
                  "--warmup", "1s", "--workers", "2", "--run-id", "s1")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = tmp_path / "s1"
    names = {"summary.json", "stages.csv", "requests.csv", "config.yaml", "telemetry.jsonl",
             "report.html", "report.md"}
    assert names <= {p.name for p in run_dir.iterdir()}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["schema"] == "tokenswarm.summary/2" and summary["kind"] == "sweep"
    stages = summary["stages"]
    assert [s["name"] for s in stages] == ["short@1", "short@2", "short@4",
                                           "medium@1", "medium@2", "medium@4"]
    assert len(summary["workers"]) == 2
    rows = pd.read_csv(run_dir / "requests.csv")
    measured = rows[(rows["phase"] == "measure") & (rows["status"] == "ok")]
    for stage in stages:
        assert stage["requests"]["ok"] > 0 and stage["requests"]["failed"] == 0, stage["name"]
        assert stage["throughput"]["output_tps"] > 0 and stage["complete"] is True
        assert stage["slo"]["pass"] is True  # the default engine is far below 100 ms
        assert stage["gpu"] is not None and stage["gpu"]["samples"] > 0
        mine = measured[measured["stage"] == stage["index"]]
        assert len(mine) == stage["requests"]["ok"], stage["name"]
        # workers used the stage's scenario: exact prompt and output lengths
        assert set(mine["input_tokens"]) == {stage["input_tokens"]}, stage["name"]
        assert set(mine["requested_output_tokens"]) == {stage["output_tokens"]}, stage["name"]
        assert set(mine["scenario"]) == {stage["scenario"]}
    # more users, more throughput (the default engine is far from saturation at 4 streams)
    tps = [s["throughput"]["output_tps"] for s in stages[:3]]
    assert tps[0] < tps[1] < tps[2]
    csv_stages = pd.read_csv(run_dir / "stages.csv")
    assert list(csv_stages["name"]) == [s["name"] for s in stages]
    assert list(csv_stages["output_tps"]) == pytest.approx([s["throughput"]["output_tps"]
                                                           for s in stages])
    environment = summary["environment"]
    assert environment["gpus"] and environment["cpu_count"]
    assert environment["engine"]["version"].startswith("tokenswarm-sim")
    assert environment["engine"]["model"] == "tokenswarm-sim"
    assert "report.html" in proc.stdout and "medium@4" in proc.stdout
    # live progress: the stage, its latencies and the load generator's own health
    progress = [line for line in proc.stderr.splitlines() if "progress stage" in line]
    assert progress and all("TTFT p50/p99" in line for line in progress), proc.stderr[-2000:]
    assert any("load generator CPU" in line for line in progress), progress
    assert all(s["health"]["workers"] == 2 for s in stages)  # both workers' health, per stage


def test_saturation_of_a_known_capacity_engine(tmp_path):
    """4 sequences at a time, 20 ms per step: capacity 4 x 50 = 200 tok/s. At 8 users half the
    requests queue for a whole request (>1 s of TTFT): the SLOs hold up to 4 users only."""
    config = {
        "sim": {"settings": {"max_num_seqs": 4, "base_ms": 20, "per_seq_ms": 0,
                             "prefill_tps": 1_000_000}},
        "scenarios": ["short:2,4,8"],
        "load": {"duration": "4s", "warmup": "2s"},
        "report": {"enabled": False},
    }
    path = tmp_path / "capacity.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = _sweep(tmp_path, "--config", str(path), "--run-id", "cap")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    stages = json.loads((tmp_path / "cap" / "summary.json").read_text())["stages"]
    verdicts = {s["users"]: s["slo"]["pass"] for s in stages}
    assert verdicts == {2: True, 4: True, 8: False}
    saturation = max(users for users, ok in verdicts.items() if ok)
    assert saturation == 4
    peak = max(s["throughput"]["output_tps"] for s in stages)
    assert peak == pytest.approx(200, rel=0.10)
    at_saturation = next(s for s in stages if s["users"] == 4)["throughput"]["output_tps"]
    assert at_saturation == pytest.approx(200, rel=0.10)


def test_early_stop_skips_the_higher_levels(tmp_path):
    proc = _sweep(tmp_path, "-s", "short:1,2", "-s", "medium:1", "--duration", "2s",
                  "--warmup", "1s", "--slo", "ttft_p99_ms=0.001", "--early-stop",
                  "--no-report", "--run-id", "es")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "es" / "summary.json").read_text())
    assert [s["name"] for s in summary["stages"]] == ["short@1", "medium@1"]
    assert summary["stages_skipped"] == ["short@2"]
    assert all(not s["slo"]["pass"] for s in summary["stages"])


def test_ctrl_c_keeps_what_was_measured(tmp_path):
    proc = subprocess.Popen([*SWEEP, "--results-dir", str(tmp_path), "-s", "short:1,2,4",
                             "--duration", "3s", "--warmup", "1s", "--no-report",
                             "--run-id", "cc"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=tmp_path)
    seen: list[str] = []

    def second_stage_started() -> bool:
        line = proc.stdout.readline()
        seen.append(line)
        return "stage 2/3" in line

    try:
        wait_for(second_stage_started, 60, "the second stage")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    summary = json.loads((tmp_path / "cc" / "summary.json").read_text())
    first, second = summary["stages"]
    assert first["complete"] is True and first["requests"]["ok"] > 0
    assert second["complete"] is False
    assert "short@2" in out and "incomplete" in out, "".join(seen) + out


@pytest.mark.parametrize(("args", "config", "message"), [
    (("-s", "shrot"), None, "unknown scenario 'shrot' (did you mean 'short'?"),
    ((), {"load": {"durtion": "5s"}}, "load: unknown key 'durtion' (did you mean 'duration'?)"),
    ((), {"slo": {"ttft_p99": 5}}, "unknown key 'ttft_p99' (did you mean 'ttft_p99_ms'?)"),
    ((), {"scenarios": [{"name": "x", "input_tokens": 5}]}, "unknown scenario 'x'"),
    (("--duration", "soon"), None, "load.duration: invalid duration 'soon'"),
    ((), {"slo": 5}, "slo must map targets to limits"),
    ((), {"run_id": 5}, "run_id must be text, got 5"),
    ((), {"telemetry": {"interval": 0}}, "telemetry.interval must be > 0 seconds"),
    ((), {"launch": {"engine": "vllm", "model": "/m", "foo": 1}}, "unknown launch key(s) foo"),
    (("--host", "http://127.0.0.1:9"), None, "cannot reach http://127.0.0.1:9"),
    (("--sim-preset", "nope"), None, "unknown sim preset 'nope'"),
    ((), {"sim": {"settings": {"max_num_seq": 4}}}, "unknown sim config key 'max_num_seq'"),
])
def test_bad_input_is_one_line_before_any_load(tmp_path, args, config, message):
    extra: tuple[str, ...] = ()
    if config is not None:
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(config))
        extra = ("--config", str(path))
    proc = _sweep(tmp_path, *args, *extra, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in proc.stderr
    assert "simulated engine" not in proc.stdout  # nothing started
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # no results folder left behind


def test_master_with_an_externally_started_worker(tmp_path):
    """--expect-workers: the sweep runs only the master; a worker started separately (as on
    another host) connects, learns each stage and does all the load."""
    port = str(free_port())
    sweep = subprocess.Popen([*SWEEP, "--results-dir", str(tmp_path), "-s", "short:1,2",
                              "--duration", "2s", "--warmup", "1s", "--expect-workers", "1",
                              "--master-bind-host", "127.0.0.1", "--master-bind-port", port,
                              "--no-report", "--run-id", "ext"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             cwd=tmp_path)
    worker = subprocess.Popen([sys.executable, "-m", "locust", "-f", str(SWEEP_LOCUSTFILE),
                               "--worker", "--master-host", "127.0.0.1", "--master-port", port],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        out, _ = sweep.communicate(timeout=120)
        worker.wait(timeout=30)
    finally:
        sweep.kill()
        worker.kill()
    assert sweep.returncode == 0, out[-3000:]
    summary = json.loads((tmp_path / "ext" / "summary.json").read_text())
    assert len(summary["workers"]) == 1
    assert [s["name"] for s in summary["stages"]] == ["short@1", "short@2"]
    assert all(s["requests"]["ok"] > 0 for s in summary["stages"])
