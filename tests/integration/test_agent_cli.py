"""``tokenswarm agent parse`` and ``tokenswarm doctor`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import free_port
from influxd import InfluxDb

from tokenswarm.sim.fakesmi import install

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "telemetry"
HY_SMI = FIXTURES / "hy-smi_dtk25.04-drv6.3_text_k100ai_8cards_idle.txt"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tokenswarm", *args], capture_output=True,
                          text=True, timeout=60, env=env)


@pytest.mark.skipif(not HY_SMI.is_file(), reason="../shared fixtures absent")
def test_parse_prints_one_json_line_per_device():
    proc = _run("agent", "parse", "--tool", "hy-smi", str(HY_SMI))
    assert proc.returncode == 0, proc.stderr
    samples = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [s["index"] for s in samples] == [str(i) for i in range(8)]
    assert all(s["tool"] == "hy-smi" and "util_pct" in s["fields"] for s in samples)


@pytest.mark.parametrize(
    ("args", "message"),
    [(("--tool", "foo-smi", "x"), "unknown tool 'foo-smi'"),
     (("--tool", "rocm-smi", "/nonexistent/capture.json"), "cannot read /nonexistent")],
)
def test_parse_user_errors_are_one_line(args: tuple[str, ...], message: str):
    proc = _run("agent", "parse", *args)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr


def test_doctor_all_good(sim_factory, influx_db: InfluxDb, tmp_path: Path):
    sim = sim_factory()
    install(tmp_path, "rocm-smi", "--engine-url", sim.url, "--cards", "2",
            "--state", str(tmp_path / "state.json"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSWARM_")}
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    proc = _run("doctor", "--sources", "rocm-smi,host,engine", "--engine-url", sim.url,
                "--host", sim.url, "--influx-url", influx_db.url, "--influx-database",
                influx_db.name, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "ok    rocm-smi" in out and "Driver" not in out
    assert "gpu 0  AMD Instinct MI300X" in out and "gpu 1  AMD Instinct MI300X" in out
    assert "ok    influxdb" in out and "ok    target" in out and "tokenswarm-sim" in out
    assert "ok    engine" in out and out.rstrip().endswith("all checks passed")


def test_doctor_says_what_is_missing(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSWARM_")}
    env["PATH"] = f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin"
    dead = f"http://127.0.0.1:{free_port()}"
    proc = _run("doctor", "--sources", "hy-smi,host", "--influx-url", dead, "--host", dead,
                env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "FAIL  hy-smi" in out and "--tool-path hy-smi=" in out
    assert "FAIL  influxdb" in out and "FAIL  target" in out
    assert "3 problem(s)" in out


def test_parse_with_no_device_exits_1_with_one_line(tmp_path: Path):
    capture = tmp_path / "empty.txt"
    capture.write_text("segmentation fault\n")
    proc = _run("agent", "parse", "--tool", "hy-smi", str(capture))
    assert proc.returncode == 1 and proc.stdout == ""
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("warning:")]
    assert errors == [f"no device found in {capture} (is it hy-smi output?)"]


def test_parse_json_capture_after_a_line_of_text(tmp_path: Path):
    capture = tmp_path / "mixed.json"
    capture.write_text("WARNING: AMD GPU device(s) is/are in a low-power state.\n\n"
                       '{"card0": {"GPU use (%)": "12", "Unique ID": "0xabc"}}\n')
    proc = _run("agent", "parse", "--tool", "rocm-smi", str(capture))
    assert proc.returncode == 0, proc.stderr
    samples = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(s["uuid"], s["fields"]["util_pct"]) for s in samples] == [("abc", 12.0)]


AMD_METRIC = FIXTURES / "amd-smi_26.0.2_rocm7.0.2_json_metric_mi300x_trimmed.json"


@pytest.mark.skipif(not AMD_METRIC.is_file(), reason="../shared fixtures absent")
def test_parse_amd_smi_with_static_capture(tmp_path: Path):
    static = tmp_path / "static.json"
    static.write_text(json.dumps([{"gpu": 0, "asic": {"market_name": "AMD Instinct MI300X",
                                                      "asic_serial": "0x4C2A"},
                                   "bus": {"bdf": "0000:0c:00.0"},
                                   "limit": {"socket_power": {"value": 750, "unit": "W"}}}]))
    proc = _run("agent", "parse", "--tool", "amd-smi", "--static", str(static), str(AMD_METRIC))
    assert proc.returncode == 0, proc.stderr
    sample = json.loads(proc.stdout.splitlines()[0])
    assert (sample["uuid"], sample["model"], sample["pci_bus"]) == (
        "0x4C2A", "AMD Instinct MI300X", "0000:0c:00.0")
    assert sample["fields"]["power_limit_w"] == 750.0
