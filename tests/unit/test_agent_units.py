"""Pure pieces of the agent: detection, points, JSON lines, the simulated GPU model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tokenswarm.errors import UserError
from tokenswarm.influx.point import Point
from tokenswarm.sim import fakegpu
from tokenswarm.sim.engine import BusyClock
from tokenswarm.telemetry import detect
from tokenswarm.telemetry.agent import Agent
from tokenswarm.telemetry.config import AgentConfig
from tokenswarm.telemetry.sample import GpuSample, HostSample
from tokenswarm.telemetry.sinks import FileSink, point_dict
from tokenswarm.telemetry.source import PollResult
from tokenswarm.telemetry.sources.registry import TOOLS


def _exe(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_find_binary_searches_path_then_search_dirs(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    spec = dataclasses.replace(TOOLS["hy-smi"], search_dirs=(str(tmp_path / "opt"),))
    assert detect.find_binary(spec, {}) is None
    (tmp_path / "opt").mkdir()
    hidden = _exe(tmp_path / "opt" / "hy-smi")
    assert detect.find_binary(spec, {}) == str(hidden)
    (tmp_path / "bin").mkdir()
    on_path = _exe(tmp_path / "bin" / "hy-smi")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert detect.find_binary(spec, {}) == str(on_path)


def test_configured_path_must_be_executable(tmp_path: Path):
    with pytest.raises(UserError, match=r"--tool-path rocm-smi=PATH or tool_paths.rocm-smi"):
        detect.find_binary(TOOLS["rocm-smi"], {"rocm-smi": str(tmp_path / "none")})


def test_missing_requested_tool_names_binary_and_option(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(detect, "tools", lambda: {
        n: dataclasses.replace(s, search_dirs=("/nonexistent/bin",)) for n, s in TOOLS.items()})
    cfg = AgentConfig(sources=["rocm-smi"])
    with pytest.raises(UserError) as err:
        detect.build_sources(cfg)
    message = str(err.value)
    assert "rocm-smi not found" in message
    assert "--tool-path rocm-smi=/nonexistent/bin/rocm-smi" in message
    with pytest.raises(UserError, match="unknown source 'foo'"):
        detect.build_sources(AgentConfig(sources=["foo"]))
    with pytest.raises(UserError, match="--engine-url"):
        detect.build_sources(AgentConfig(sources=["engine"]))


def test_auto_takes_one_amd_family_tool_plus_nvidia():
    found = {"rocm-smi": "/a", "hy-smi": "/b", "nvidia-smi": "/c", "amd-smi": "/d"}
    assert detect.auto_tools(found) == ["hy-smi", "nvidia-smi"]
    assert detect.auto_tools({"amd-smi": "/d", "rocm-smi": "/a"}) == ["rocm-smi"]


def test_points_carry_run_id_host_and_collector_metrics():
    agent = Agent([], [], "r1", "h1", 1.0)
    gpu = GpuSample("rocm-smi", "amd", "3", uuid="u", model="M", fields={"util_pct": 5.0})
    source = type("S", (), {"name": "rocm-smi"})()
    result = PollResult(samples=[gpu, HostSample({"cpu_pct": 1.0})], warnings=2,
                        duration_s=0.25)
    points = agent.points(source, result, 123)
    assert [p.measurement for p in points] == ["gpu", "host", "gpu_collector"]
    assert points[0].tags["run_id"] == "r1" and points[0].tags["gpu"] == "3"
    assert points[2].tags == {"run_id": "r1", "host": "h1", "tool": "rocm-smi"}
    assert points[2].fields == {"up": 1, "duration_s": 0.25, "devices": 2, "parse_warnings": 2}
    assert {p.time_ns for p in points} == {123}


def test_file_sink_writes_points_as_influx_would_store_them(tmp_path: Path):
    point = Point("gpu", {"run_id": "r", "uuid": ""}, {"util_pct": 1.5, "power_w": None}, 7)
    assert point_dict(point) == {"measurement": "gpu", "tags": {"run_id": "r"},
                                 "fields": {"util_pct": 1.5}, "time_ns": 7}
    sink = FileSink(tmp_path / "r" / "telemetry.jsonl")
    sink.write([point, point])
    assert sink.close(1.0) == {"file_points": 2}
    lines = (tmp_path / "r" / "telemetry.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [point_dict(point)] * 2


def test_busy_clock_counts_only_busy_time():
    clock = BusyClock()
    clock.set(True, 10.0)
    assert clock.seconds(10.5) == 0.5
    clock.set(True, 10.7)  # still busy: no restart
    clock.set(False, 11.0)
    assert clock.seconds(20.0) == 1.0
    clock.set(True, 30.0)
    assert clock.seconds(30.25) == 1.25


def test_simulated_gpu_follows_the_busy_share():
    before = fakegpu.EngineState(busy_seconds=1.0, clock_seconds=100.0, running=0,
                                 kv_cache_usage=0.0)
    now = fakegpu.EngineState(busy_seconds=1.5, clock_seconds=101.0, running=1,
                              kv_cache_usage=0.5)
    assert fakegpu.utilisation(now, before) == 50.0
    assert fakegpu.utilisation(now, None) == 100.0
    idle = fakegpu.card(0, 0.0, 0.0)
    busy = fakegpu.card(0, 100.0, 1.0)
    assert idle["Average Graphics Package Power (W)"] == f"{fakegpu.IDLE_W:.1f}"
    assert busy["Average Graphics Package Power (W)"] == f"{fakegpu.LIMIT_W:.1f}"
    assert int(busy["VRAM Total Used Memory (B)"]) > int(idle["VRAM Total Used Memory (B)"])


def test_simulated_gpu_json_is_read_by_the_real_rocm_smi_parser():
    doc = fakegpu.document(8, 40.0, 0.5)
    result = TOOLS["rocm-smi"].parse_json(json.dumps(doc, indent=4))
    assert result.warnings == []
    assert [s.index for s in result.samples] == [str(i) for i in range(8)]
    fields = result.samples[0].fields
    assert fields["util_pct"] == 40.0
    assert fields["power_w"] == pytest.approx(fakegpu.IDLE_W + 0.4 * (fakegpu.LIMIT_W
                                                                      - fakegpu.IDLE_W))
    assert fields["power_limit_w"] == fakegpu.LIMIT_W
    assert fields["vram_total_bytes"] == fakegpu.VRAM_TOTAL_B
    assert len({s.uuid for s in result.samples}) == 8
    text = TOOLS["rocm-smi"].parse_text(fakegpu.text(doc))
    assert text.samples[3].fields["util_pct"] == 40.0
