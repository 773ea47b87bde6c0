"""GpuToolSource format choice: transient failures vs real rejections, the reduced JSON flag
set, stable identity tags, and the amd-smi static call. Tools are small sh scripts that log
their arguments, so each test sees exactly which calls a poll made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenswarm.telemetry import gpusource
from tokenswarm.telemetry.gpusource import GpuToolSource
from tokenswarm.telemetry.sources.registry import TOOLS

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "telemetry"
AMD_METRIC = FIXTURES / "amd-smi_26.0.2_rocm7.0.2_json_metric_mi300x_trimmed.json"

HY_JSON = json.dumps({
    "card0": {"HCU use (%)": "12.0", "Unique ID": "7137d9b2a08a4841", "Card Series": "K100_AI",
              "PCI Bus": "0000:06:00.0"},
    "card1": {"HCU use (%)": "13.0", "Unique ID": "7137d9debec858c1", "Card Series": "K100_AI",
              "PCI Bus": "0000:07:00.0"},
})
HY_TABLE = """\
============================ System Management Interface =============================
HCU     Temp     AvgPwr     Perf     PwrCap     VRAM%      HCU%      Mode
0       49.0C    25.0W      auto     400.0W     0%         55.0%     Normal
1       48.0C    24.0W      auto     400.0W     0%         56.0%     Normal
======================================================================================
"""


def _tool(tmp_path: Path, name: str, body: str) -> tuple[Path, Path]:
    """An sh script named ``name`` that appends its arguments to calls.log, then runs body."""
    (tmp_path / "json.txt").write_text(HY_JSON)
    (tmp_path / "table.txt").write_text(HY_TABLE)
    calls = tmp_path / "calls.log"
    path = tmp_path / name
    path.write_text(f'#!/bin/sh\necho "$*" >> {calls}\ncd {tmp_path}\n{body}\n')
    path.chmod(0o755)
    return path, calls


def _calls(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.is_file() else []


def test_one_transient_json_failure_fails_only_that_poll(tmp_path: Path):
    # the reviewer's case: exit 1 "device busy" once, valid JSON afterwards
    binary, calls = _tool(tmp_path, "hy-smi", """\
case "$*" in *--json*)
  if [ ! -e once ]; then touch once; echo "hy-smi: device busy, try again" >&2; exit 1; fi
  cat json.txt; exit 0;;
esac
cat table.txt""")
    source = GpuToolSource(TOOLS["hy-smi"], str(binary), timeout_s=10)
    first = source.poll()
    assert not first.ok and "device busy" in first.error
    assert source.mode == "" and not source.rejected
    assert len(_calls(calls)) == 1  # no text call in the same poll (its tags would differ)
    for _ in range(3):
        result = source.poll()
        assert result.ok and source.mode == "json"
        assert [s.uuid for s in result.samples] == ["7137d9b2a08a4841", "7137d9debec858c1"]
        assert {s.model for s in result.samples} == {"K100_AI"}
    assert all("--json" in call for call in _calls(calls))


def test_a_failure_after_json_worked_never_switches_to_text(tmp_path: Path):
    binary, calls = _tool(tmp_path, "hy-smi", """\
case "$*" in *--json*)
  if [ -e busy ]; then echo "hy-smi: device busy" >&2; exit 1; fi
  cat json.txt; exit 0;;
esac
cat table.txt""")
    source = GpuToolSource(TOOLS["hy-smi"], str(binary), timeout_s=10)
    assert source.poll().ok and source.mode == "json"
    (tmp_path / "busy").touch()
    for _ in range(gpusource.REJECT_AFTER + 2):
        assert not source.poll().ok
    assert source.mode == "json" and not source.rejected
    (tmp_path / "busy").unlink()
    result = source.poll()
    assert result.ok and result.samples[0].uuid == "7137d9b2a08a4841"
    assert all("--json" in call for call in _calls(calls))


def test_refused_flag_uses_the_reduced_json_set_at_once_and_remembers_it(tmp_path: Path):
    # some hy-smi releases refuse --showpower: TELEMETRY-FORMATS 2.1
    binary, calls = _tool(tmp_path, "hy-smi", """\
case "$*" in *--showpower*)
  echo "usage: hy-smi [-h] ..." >&2
  echo "hy-smi: error: unrecognized arguments: --showpower" >&2; exit 2;;
esac
case "$*" in *--json*) cat json.txt; exit 0;; esac
cat table.txt""")
    source = GpuToolSource(TOOLS["hy-smi"], str(binary), timeout_s=10)
    first = source.poll()
    assert first.ok and source.mode == "json-reduced" and source.rejected == {"json"}
    assert [s.uuid for s in first.samples] == ["7137d9b2a08a4841", "7137d9debec858c1"]
    assert source.poll().ok
    log = _calls(calls)
    assert len(log) == 3 and "--showpower" in log[0]
    reduced = log[1].split()
    assert reduced == list(TOOLS["hy-smi"].json_args_reduced) and log[2] == log[1]
    assert not {"--showpower", "--showclocks", "--showmeminfo"} & set(reduced)


def test_both_json_sets_refused_falls_back_to_the_table(tmp_path: Path):
    binary, calls = _tool(tmp_path, "hy-smi", """\
case "$*" in *--json*) echo "hy-smi: unrecognized option '--json'" >&2; exit 1;; esac
cat table.txt""")
    source = GpuToolSource(TOOLS["hy-smi"], str(binary), timeout_s=10)
    result = source.poll()
    assert result.ok and source.mode == "text"
    assert [s.fields["util_pct"] for s in result.samples] == [55.0, 56.0]
    assert source.poll().ok and len(_calls(calls)) == 4  # json, reduced, table, table


def test_the_same_failure_on_consecutive_polls_before_json_ever_worked_is_a_rejection(
    tmp_path: Path,
):
    # an old tool that exits 1 on unknown flags with a message we do not recognise
    binary, calls = _tool(tmp_path, "hy-smi", """\
case "$*" in *--json*) echo "hy-smi: bad input" >&2; exit 1;; esac
cat table.txt""")
    source = GpuToolSource(TOOLS["hy-smi"], str(binary), timeout_s=10)
    for _ in range(gpusource.REJECT_AFTER):
        assert not source.poll().ok
    assert source.rejected == {"json"} and source.mode == ""
    for _ in range(gpusource.REJECT_AFTER):
        assert not source.poll().ok
    assert source.rejected == {"json", "json-reduced"}
    assert source.poll().ok and source.mode == "text"
    assert len(_calls(calls)) == 2 * gpusource.REJECT_AFTER + 1


def test_identity_tags_stay_when_the_format_changes_mid_run(tmp_path: Path):
    binary, _calls_log = _tool(tmp_path, "hy-smi", """\
case "$*" in *--json*)
  if [ -e refuse ]; then echo "hy-smi: error: unrecognized arguments: --json" >&2; exit 2; fi
  cat json.txt; exit 0;;
esac
cat table.txt""")
    source = GpuToolSource(TOOLS["hy-smi"], str(binary), timeout_s=10)
    before = source.poll()
    assert before.ok and source.mode == "json"
    (tmp_path / "refuse").touch()  # e.g. a driver update while the agent runs
    after = source.poll()
    assert after.ok and source.mode == "text"
    assert [(s.uuid, s.model) for s in after.samples] == [
        (s.uuid, s.model) for s in before.samples]
    assert after.samples[0].fields["util_pct"] == 55.0


def _amd_static(gpus: int) -> str:
    return json.dumps({"gpu_data": [{
        "gpu": i,
        "asic": {"market_name": "AMD Instinct MI300X", "device_id": "0x74a1",
                 "asic_serial": f"0x4C2A1F0D8E9B3C5{i}"},
        "bus": {"bdf": f"0000:{0x0c + i:02x}:00.0"},
        "board": {"product_serial": "N/A", "product_name": "Instinct MI300X Platform"},
        "limit": {"max_power": {"value": 750, "unit": "W"},
                  "socket_power": {"value": 750, "unit": "W"}},
        "driver": {"name": "amdgpu", "version": "6.8.5"},
    } for i in range(gpus)]})


@pytest.mark.skipif(not AMD_METRIC.is_file(), reason="../shared fixtures absent")
def test_amd_smi_static_is_called_once_and_joined_into_every_poll(tmp_path: Path):
    (tmp_path / "metric.json").write_text(AMD_METRIC.read_text())
    (tmp_path / "static.json").write_text(_amd_static(8))
    binary, calls = _tool(tmp_path, "amd-smi", """\
case "$1" in metric) cat metric.json;; static) cat static.json;; esac""")
    source = GpuToolSource(TOOLS["amd-smi"], str(binary), timeout_s=10)
    for _ in range(3):
        result = source.poll()
        assert result.ok and result.warnings == 0
        first = result.samples[0]
        assert first.uuid == "0x4C2A1F0D8E9B3C50" and first.model == "AMD Instinct MI300X"
        assert first.pci_bus == "0000:0c:00.0" and first.fields["power_limit_w"] == 750.0
        assert first.info["driver_version"] == "6.8.5"
        assert "pci_bus" in first.to_point("r", "h", 1).fields
    assert _calls(calls).count("static --json") == 1
    assert _calls(calls).count("metric --json") == 3


@pytest.mark.skipif(not AMD_METRIC.is_file(), reason="../shared fixtures absent")
def test_amd_smi_static_failure_keeps_polling_and_is_retried(tmp_path: Path, caplog,
                                                             monkeypatch):
    (tmp_path / "metric.json").write_text(AMD_METRIC.read_text())
    (tmp_path / "static.json").write_text(_amd_static(8))
    binary, calls = _tool(tmp_path, "amd-smi", """\
case "$1" in
  metric) cat metric.json;;
  static) if [ -e broken ]; then echo "static: error" >&2; exit 1; fi; cat static.json;;
esac""")
    (tmp_path / "broken").touch()
    monkeypatch.setattr(gpusource, "STATIC_RETRY_S", 0.0)
    source = GpuToolSource(TOOLS["amd-smi"], str(binary), timeout_s=10)
    caplog.set_level("WARNING", "tokenswarm.agent")
    for _ in range(2):
        result = source.poll()
        assert result.ok and result.samples[0].uuid == ""
    assert caplog.text.count("static --json` failed") == 1
    (tmp_path / "broken").unlink()
    result = source.poll()
    assert result.samples[0].uuid == "0x4C2A1F0D8E9B3C50"
    assert _calls(calls).count("static --json") == 3
