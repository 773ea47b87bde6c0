"""The agent process with a fake rocm-smi writes to a real influxd and to telemetry.jsonl;
an InfluxDB outage costs only what the bounded buffer cannot hold, and says so."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from helpers import wait_for
from influxd import Influxd, InfluxDb

from tokenswarm.sim.fakesmi import install
from tokenswarm.telemetry.process import AgentProcess
from tokenswarm.telemetry.sources.registry import TOOLS

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "telemetry"
CAPTURE = FIXTURES / "rocm-smi_6.0.2_json_telegraf-allflags_mi100.json"
needs_capture = pytest.mark.skipif(not CAPTURE.is_file(), reason="../shared fixtures absent")


def _env(tool_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSWARM_")}
    env["PATH"] = f"{tool_dir}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@needs_capture
def test_agent_writes_the_normalised_capture_to_influxdb_and_file(
    influx_db: InfluxDb, tmp_path: Path
):
    install(tmp_path, "rocm-smi", "--replay", str(CAPTURE))
    expected = {s.index: s for s in TOOLS["rocm-smi"].parse_json(CAPTURE.read_text()).samples}
    args = ("--sources", "rocm-smi,host", "--interval-s", "0.2", "--run-id", "e2e",
            "--host", "gpu-host-1", "--results-dir", str(tmp_path / "results"),
            "--influx-url", influx_db.url, "--influx-database", influx_db.name)
    with AgentProcess(*args, env=_env(tmp_path)) as agent:
        wait_for(lambda: influx_db.count("gpu", "util_pct") >= 3 * len(expected), 20,
                 "gpu points in InfluxDB")
        summary = agent.stop()
        output = agent.output()
    assert summary["errors"] == 0 and summary["dropped"] == 0, output
    assert summary["written"] == summary["points"] == summary["file_points"], output

    rows = influx_db.query("SELECT * FROM gpu GROUP BY *")
    assert rows and {r["gpu"] for r in rows} == set(expected)
    for row in rows:
        sample = expected[row["gpu"]]
        assert {k: row[k] for k in ("run_id", "host", "uuid", "model", "tool", "vendor")} == {
            "run_id": "e2e", "host": "gpu-host-1", "uuid": sample.uuid, "model": sample.model,
            "tool": "rocm-smi", "vendor": sample.vendor}
        values = {k: v for k, v in row.items() if v is not None and k not in (
            "time", "run_id", "host", "gpu", "uuid", "model", "tool", "vendor")}
        pci = {"pci_bus": sample.pci_bus} if sample.pci_bus else {}  # a field, not a tag
        assert values == {**sample.fields, **sample.info, **pci}
    for gpu in expected:
        stamps = [r["time"] for r in rows if r["gpu"] == gpu]
        assert stamps == sorted(set(stamps))  # strictly increasing per series

    lines = _jsonl(tmp_path / "results" / "e2e" / "telemetry.jsonl")
    assert len(lines) == summary["points"]
    file_gpu = {(p["tags"]["gpu"], p["time_ns"]): p["fields"] for p in lines
                if p["measurement"] == "gpu"}
    db_gpu = {(r["gpu"], r["time"]) for r in rows}
    assert set(file_gpu) == db_gpu
    assert influx_db.count("host", "cpu_pct") == sum(p["measurement"] == "host" for p in lines)
    collector = influx_db.query("SELECT * FROM gpu_collector WHERE tool = 'rocm-smi'")
    assert collector and all(r["up"] == 1 and r["devices"] == len(expected) for r in collector)


@needs_capture
def test_influxdb_outage_keeps_polling_delivers_buffer_and_counts_drops(
    own_influxd: Influxd, tmp_path: Path
):
    db = InfluxDb(own_influxd.url, "outage").create()
    install(tmp_path, "rocm-smi", "--replay", str(CAPTURE))
    jsonl = tmp_path / "results" / "out" / "telemetry.jsonl"
    env = _env(tmp_path, TOKENSWARM_INFLUX_URL=own_influxd.url,
               TOKENSWARM_INFLUX_DATABASE="outage", TOKENSWARM_INFLUX_MAX_BUFFER_POINTS="40",
               TOKENSWARM_INFLUX_MAX_BACKOFF_S="0.3", TOKENSWARM_INFLUX_TIMEOUT_S="1",
               TOKENSWARM_INFLUX_FLUSH_INTERVAL_S="0.2")
    args = ("--sources", "rocm-smi,host", "--interval-s", "0.1", "--run-id", "out",
            "--results-dir", str(tmp_path / "results"))
    with AgentProcess(*args, env=env) as agent:
        wait_for(lambda: db.count("gpu", "util_pct") > 0, 20, "first points")
        own_influxd.stop()
        down_ns = time.time_ns()
        seen = len(_jsonl(jsonl))
        # ~7 points per poll at 0.1 s: 150 more lines is far beyond the 40-point buffer
        wait_for(lambda: len(_jsonl(jsonl)) > seen + 150, 20, "polling while InfluxDB is down")
        up_ns = time.time_ns()
        own_influxd.start()
        wait_for(lambda: db.count("gpu", "util_pct") > 0 and db.query(
            f"SELECT count(util_pct) FROM gpu WHERE time > {up_ns}"), 20, "points after restart")
        summary = agent.stop()
        output = agent.output()
    assert summary["dropped"] > 0, output
    assert summary["written"] + summary["dropped"] == summary["points"], output
    total = sum(db.count(m, f) for m, f in (("gpu", "util_pct"), ("host", "cpu_pct"),
                                            ("gpu_collector", "up")))
    assert total == summary["written"]
    buffered = db.query(f"SELECT count(util_pct) FROM gpu WHERE time > {down_ns} "
                        f"AND time < {up_ns}")
    assert buffered and buffered[0]["count"] > 0  # the buffer's newest points survived
    assert f"dropped={summary['dropped']} " in output  # the exit line reports the loss


@needs_capture
def test_influxdb_down_at_startup_is_a_warning_then_points_arrive(own_influxd: Influxd,
                                                                  tmp_path: Path):
    db = InfluxDb(own_influxd.url, "late").create()
    own_influxd.stop()  # the agent starts first (e.g. systemd ordering, InfluxDB restarting)
    install(tmp_path, "rocm-smi", "--replay", str(CAPTURE))
    jsonl = tmp_path / "results" / "late" / "telemetry.jsonl"
    env = _env(tmp_path, TOKENSWARM_INFLUX_URL=own_influxd.url,
               TOKENSWARM_INFLUX_DATABASE="late", TOKENSWARM_INFLUX_TIMEOUT_S="1",
               TOKENSWARM_INFLUX_MAX_BACKOFF_S="0.3", TOKENSWARM_INFLUX_FLUSH_INTERVAL_S="0.2")
    args = ("--sources", "rocm-smi,host", "--interval-s", "0.2", "--run-id", "late",
            "--results-dir", str(tmp_path / "results"))
    with AgentProcess(*args, env=env) as agent:
        wait_for(lambda: len(_jsonl(jsonl)) > 20, 20, "file points while InfluxDB is down")
        assert agent.proc is not None and agent.proc.poll() is None, agent.output()
        own_influxd.start()
        wait_for(lambda: db.count("gpu", "util_pct") > 0, 20, "points once InfluxDB is up")
        summary = agent.stop()
        output = agent.output()
    assert agent.proc is not None and agent.proc.returncode == 0, output
    assert output.count("is unreachable") == 1 and "starting anyway" in output, output
    assert summary["written"] + summary["dropped"] == summary["points"], output
    assert summary["dropped"] == 0, output  # the buffer held everything polled meanwhile
    assert summary["file_points"] == summary["points"]
