"""Tool faults: a hang is killed (whole process group), counted and followed by good polls;
a missing tool stops start-up with what to set; garbage output warns once, never crashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from helpers import wait_for

from tokenswarm.sim.fakesmi import install
from tokenswarm.telemetry.process import AgentProcess

pytestmark = pytest.mark.integration


def _env(tool_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSWARM_")}
    env["PATH"] = f"{tool_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"
    return env


def _lines(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _fakes_running(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_hanging_tool_is_killed_counted_and_the_next_poll_works(tmp_path: Path):
    hang = tmp_path / "hang-now"
    hang.touch()
    doc = tmp_path / "capture.json"
    doc.write_text(json.dumps({"card0": {"GPU use (%)": "7", "Unique ID": "0xabc"}}))
    # exec_=False: sh stays the parent of the sleeping Python, only a group kill ends both
    install(tmp_path, "rocm-smi", "--replay", str(doc), "--delay-s", "30",
            "--delay-while", str(hang), exec_=False)
    jsonl = tmp_path / "r" / "hang" / "telemetry.jsonl"
    args = ("--sources", "rocm-smi,host", "--interval-s", "0.2", "--tool-timeout-s", "0.5",
            "--run-id", "hang", "--results-dir", str(tmp_path / "r"))
    with AgentProcess(*args, env=_env(tmp_path)) as agent:
        wait_for(lambda: "timed out after" in agent.output(), 15, "a logged tool timeout")
        # host polls go on while the tool hangs (own thread)
        wait_for(lambda: sum(p["measurement"] == "host" for p in _lines(jsonl)) >= 3, 10,
                 "host points during the hang")
        hang.unlink()
        wait_for(lambda: any(p["measurement"] == "gpu" for p in _lines(jsonl)), 15,
                 "a gpu point after the hang")
        summary = agent.stop()
        output = agent.output()
    assert summary["tool_timeouts"] >= 1, output
    gpu = [p for p in _lines(jsonl) if p["measurement"] == "gpu"]
    assert gpu[0]["fields"]["util_pct"] == 7.0
    down = [p for p in _lines(jsonl) if p["measurement"] == "gpu_collector"
            and p["tags"]["tool"] == "rocm-smi" and p["fields"]["up"] == 0]
    assert down, "a timed-out poll is visible as up=0"
    wait_for(lambda: not _fakes_running(str(hang)), 5, "no fake tool process left behind")


def test_missing_requested_tool_is_a_one_line_startup_error(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "tokenswarm", "agent", "--sources", "hy-smi,host",
         "--results-dir", str(tmp_path)],
        capture_output=True, text=True, env=_env(tmp_path), timeout=30,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "hy-smi not found" in lines[0]
    assert "--tool-path hy-smi=/opt/hyhal/bin/hy-smi" in lines[0]
    assert "tool_paths.hy-smi" in lines[0]


def test_garbage_output_warns_once_and_the_agent_keeps_going(tmp_path: Path):
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("Segmentation fault (core dumped)\n{{{ not json ]]\n")
    install(tmp_path, "hy-smi", "--replay", str(garbage))
    jsonl = tmp_path / "r" / "g" / "telemetry.jsonl"
    args = ("--sources", "hy-smi,host", "--interval-s", "0.2", "--run-id", "g",
            "--results-dir", str(tmp_path / "r"))
    with AgentProcess(*args, env=_env(tmp_path)) as agent:
        wait_for(lambda: sum(p["measurement"] == "gpu_collector" and p["tags"]["tool"] ==
                             "hy-smi" for p in _lines(jsonl)) >= 4, 15, "four hy-smi polls")
        summary = agent.stop()
        output = agent.output()
    assert agent.proc is not None and agent.proc.returncode == 0, output
    assert summary["errors"] >= 4 and summary["polls"] >= 8
    assert "Please send a sample" in output
    assert output.count("Please send a sample") <= 2  # once per distinct message
    assert "Traceback" not in output


def test_importing_the_agent_imports_neither_locust_nor_gevent():
    code = (
        "import sys\n"
        "import tokenswarm.cli, tokenswarm.telemetry.agent, tokenswarm.telemetry.cli\n"
        "import tokenswarm.telemetry.detect, tokenswarm.telemetry.doctor\n"
        "import tokenswarm.telemetry.sinks, tokenswarm.telemetry.sources.registry\n"
        "tokenswarm.cli.build_parser()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')]\n"
        "sys.exit(f'imported: {bad}' if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _gpu_points(path: Path) -> list[dict]:
    return [p for p in _lines(path) if p["measurement"] == "gpu"]


def test_transient_json_failure_fails_one_poll_is_logged_and_json_stays(tmp_path: Path):
    doc = tmp_path / "capture.json"
    doc.write_text(json.dumps({"card0": {"HCU use (%)": "7", "Unique ID": "7137d9b2a08a4841",
                                         "Card Series": "K100_AI"}}))
    table = tmp_path / "table.txt"
    table.write_text("HCU  Temp   AvgPwr  HCU%\n0    40.0C  100.0W  9.0%\n")
    busy = tmp_path / "busy"
    busy.touch()
    install(tmp_path, "hy-smi", "--replay", str(doc), "--replay-text", str(table),
            "--busy-once", str(busy))
    jsonl = tmp_path / "r" / "b" / "telemetry.jsonl"
    args = ("--sources", "hy-smi", "--interval-s", "0.2", "--run-id", "b",
            "--results-dir", str(tmp_path / "r"))
    with AgentProcess(*args, env=_env(tmp_path)) as agent:
        wait_for(lambda: len(_gpu_points(jsonl)) >= 4, 20, "gpu points after the busy call")
        summary = agent.stop()
        output = agent.output()
    assert summary["errors"] == 1, output
    assert "device busy" in output and "using json output" in output
    assert "using text output" not in output
    points = _gpu_points(jsonl)
    assert {(p["tags"]["uuid"], p["tags"]["model"]) for p in points} == {
        ("7137d9b2a08a4841", "K100_AI")}
    assert {p["fields"]["util_pct"] for p in points} == {7.0}


def test_refused_showpower_uses_the_reduced_json_flags(tmp_path: Path):
    doc = tmp_path / "capture.json"
    doc.write_text(json.dumps({"card0": {"HCU use (%)": "7", "Unique ID": "7137d9b2a08a4841"}}))
    install(tmp_path, "hy-smi", "--replay", str(doc), "--reject-flag=--showpower")
    jsonl = tmp_path / "r" / "p" / "telemetry.jsonl"
    args = ("--sources", "hy-smi", "--interval-s", "0.2", "--run-id", "p",
            "--results-dir", str(tmp_path / "r"))
    with AgentProcess(*args, env=_env(tmp_path)) as agent:
        wait_for(lambda: len(_gpu_points(jsonl)) >= 2, 20, "gpu points")
        summary = agent.stop()
        output = agent.output()
    assert summary["errors"] == 0, output
    assert "using json-reduced output" in output and "unrecognized arguments" in output
    assert {p["tags"]["uuid"] for p in _gpu_points(jsonl)} == {"7137d9b2a08a4841"}
