"""Every captured tool output in ../shared/fixtures/telemetry parses without an exception.

Files map to tools by filename prefix. Skipped on purpose (not a tool's data output):
INDEX.md (the index), ``rocminfo_*`` (another tool), ``hygon-dcu-exporter_*`` (Prometheus
text of an exporter), ``*help*`` (``--help-query-gpu`` text).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import REPO

from tokenswarm.telemetry.sources.base import ParseResult
from tokenswarm.telemetry.sources.registry import TOOLS

FIXTURES = REPO.parent / "shared" / "fixtures" / "telemetry"
PREFIXES = {
    "hy-smi_": "hy-smi", "rocm-smi_": "rocm-smi", "dtk-rocm-smi_": "rocm-smi",
    "dcu-rocm-smi_": "rocm-smi", "amd-smi_": "amd-smi", "nvidia-smi_": "nvidia-smi",
}
SKIP_PREFIXES = ("INDEX", "rocminfo_", "hygon-dcu-exporter_")
SKIP_SUBSTRINGS = ("help",)
# Samples per file (hand-counted from the fixture text); 0 = output without device metrics.
EXPECTED_SAMPLES = {
    "nvidia-smi_440.64_csv_noheader-nounits_rtx2080_gpu-utils.csv": 0,  # foreign column order
    "nvidia-smi_csv_noheader-nounits_placeholder-NA_i3pystatus.csv": 0,  # foreign column order
    "amd-smi_26.2.1_rocm7.2.0_text_default_r9700_2gpus.txt": 0,  # boxed table: not parsed
    "hy-smi_drv6.3.31_text_showdriverversion_fixture.txt": 0,
    "hy-smi_drv6.3.31_text_showpids_busy_fixture.txt": 0,
    "hy-smi_drv6.3.31_text_showpids_empty_fixture.txt": 0,
    "rocm-smi_5.7.1_json_telegraf-allflags_mi100.json": 6,
    "rocm-smi_6.0.2_json_telegraf-allflags_mi100.json": 4,
    "dtk-rocm-smi_dtk23.10.1_text_k100-64g_8cards.txt": 8,
    "hy-smi_dtk25.04-drv6.3_text_k100ai_8cards_idle.txt": 8,
    "hy-smi_hcu-dec-enc_text_8cards_training-busy_a.txt": 8,
    "rocm-smi_7.2.3_csv_i-P-t-f-u-memuse-meminfo-productname_4x7900xtx_cards0-2_truncated.csv": 3,
}


def _tool_for(name: str) -> str | None:
    if name.startswith(SKIP_PREFIXES) or any(part in name for part in SKIP_SUBSTRINGS):
        return None
    for prefix, tool in PREFIXES.items():
        if name.startswith(prefix):
            return tool
    raise AssertionError(f"fixture {name} has no tool prefix and no skip rule")


def _data_files() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(p for p in FIXTURES.iterdir() if p.is_file() and _tool_for(p.name))


def test_fixture_folder_present():
    if not FIXTURES.is_dir():
        pytest.skip(f"{FIXTURES} absent (fresh clone without ../shared): fixture tests skipped")
    assert len(_data_files()) >= 50


@pytest.mark.parametrize("path", _data_files(), ids=lambda p: p.name)
def test_fixture_parses(path: Path):
    result = TOOLS[_tool_for(path.name) or ""].parse(path.read_text(encoding="utf-8"))
    assert isinstance(result, ParseResult)
    if path.name in EXPECTED_SAMPLES:
        assert len(result.samples) == EXPECTED_SAMPLES[path.name]
    for sample in result.samples:
        assert sample.index.isdigit()
        assert all(isinstance(v, (int, float)) for v in sample.fields.values())
        assert all(isinstance(v, str) and v for v in sample.info.values())
    if not result.samples:
        assert result.warnings or result.version, "an empty result must say why"
