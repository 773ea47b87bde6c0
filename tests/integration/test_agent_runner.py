"""Running a tool: JSON first, text fallback remembered, version once, hard timeout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenswarm.sim import fakegpu
from tokenswarm.sim.fakesmi import install
from tokenswarm.telemetry.gpusource import GpuToolSource
from tokenswarm.telemetry.runner import run_command
from tokenswarm.telemetry.sources.registry import TOOLS

pytestmark = pytest.mark.integration


def test_json_rejected_falls_back_to_text_and_remembers(tmp_path: Path, caplog):
    text = tmp_path / "text.txt"
    text.write_text(fakegpu.text(fakegpu.document(2, 30.0, 0.0)))
    binary = install(tmp_path, "rocm-smi", "--replay-text", str(text), "--fail-json")
    source = GpuToolSource(TOOLS["rocm-smi"], str(binary), timeout_s=10)
    assert source.detect_version() == "6.8.5"
    caplog.set_level("INFO", "tokenswarm.agent")
    first = source.poll()
    assert first.ok and [s.fields["util_pct"] for s in first.samples] == [30.0, 30.0]
    assert source.mode == "text"
    assert source.poll().ok
    assert caplog.text.count("using text output") == 1
    assert "rocm-smi" in source.describe() and "text output" in source.describe()


def test_json_used_when_it_works(tmp_path: Path):
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps(fakegpu.document(3, 0.0, 0.0)))
    binary = install(tmp_path, "rocm-smi", "--replay", str(doc))
    source = GpuToolSource(TOOLS["rocm-smi"], str(binary), timeout_s=10)
    result = source.poll()
    assert result.ok and len(result.samples) == 3 and source.mode == "json"


def test_run_command_reports_failures_without_raising(tmp_path: Path):
    missing = run_command([str(tmp_path / "no-such-tool")], 1.0)
    assert missing.returncode == 127 and not missing.timed_out
    slow = run_command(["sleep", "5"], 0.2)
    assert slow.timed_out and slow.returncode is None and slow.duration_s < 2
    assert "timed out" in slow.why()
    failed = run_command(["sh", "-c", "echo boom >&2; exit 3"], 5.0)
    assert failed.why() == "exit status 3: boom"


def test_overhead_benchmark_reports_agent_and_tool_cpu_separately():
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "agent_overhead.py"
    proc = subprocess.run([sys.executable, str(script), "--seconds", "2", "--cards", "2"],
                          capture_output=True, text=True, timeout=120)
    result = json.loads(proc.stdout)
    for key in ("agent_cpu_pct_of_core", "agent_cpu_ms_per_poll", "tool_cpu_pct_of_core",
                "tool_cpu_ms_per_poll"):
        assert result[key] >= 0, key
    assert result["tool_cpu_s"] > 0  # the fake tool is a Python process per poll
    assert "agent_cpu_pct_of_core" in result["budget_applies_to"]
    assert proc.returncode == (0 if result["agent_cpu_pct_of_core"] < 2.0 else 1)
    assert "not budgeted" in proc.stderr
