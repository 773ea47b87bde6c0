"""amd-smi parser: list vs gpu_data wrapper, value/unit leaves, N/A leaves and sections."""

from __future__ import annotations

import json

import pytest
from helpers import REPO

from tokenswarm.telemetry.sample import GpuSample
from tokenswarm.telemetry.sources import amdsmi
from tokenswarm.telemetry.sources.base import ParseError

FIXTURES = REPO.parent / "shared" / "fixtures" / "telemetry"
MIB = 1048576


def fixture(name: str) -> str:
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip(f"{path} absent (fresh clone without ../shared)")
    return path.read_text(encoding="utf-8")


def amd(index: str, **kw) -> GpuSample:
    return GpuSample(tool="amd-smi", vendor="amd", index=index, **kw)


def test_mi300x_gpu_data_wrapper_without_edge_temperature():
    result = amdsmi.parse(fixture("amd-smi_26.0.2_rocm7.0.2_json_metric_mi300x_trimmed.json"))
    assert result.warnings == []
    assert result.samples == [amd("0", fields={
        "util_pct": 0.0, "mem_busy_pct": 0.0, "power_w": 158.0, "temp_junction_c": 45.0,
        "temp_mem_c": 38.0})]


def test_rocm61_top_level_list():
    result = amdsmi.parse(fixture("amd-smi_rocm6.1.0_json_metric-p_changelog-example.json"))
    assert result.samples == [amd("0", fields={"power_w": 10.0})]


def test_metric_power_text_two_gpus():
    result = amdsmi.parse(fixture("amd-smi_rocm6.1.2_text_metric-power_navi_changelog-example.txt"))
    assert result.samples == [amd("0", fields={"power_w": 11.0}),
                              amd("1", fields={"power_w": 17.0})]


def test_units_scaled_from_leaves_and_na_sections():
    doc = [{"gpu": 3, "usage": "N/A",
            "power": {"socket_power": {"value": 250500, "unit": "mW"}},
            "energy": {"total_energy_consumption": {"value": 5000000, "unit": "uJ"}},
            "mem_usage": {"total_vram": {"value": 196592, "unit": "MB"},
                          "used_vram": {"value": 283, "unit": "MB"}},
            "clock": {"gfx_0": {"clk": {"value": 2100, "unit": "MHz"}},
                      "mem_0": {"clk": "N/A"}},
            "fan": {"usage": {"value": 38.82, "unit": "%"}},
            "bus": {"bdf": "0000:0C:00.0"}, "asic": {"asic_serial": "0x9A2A", "market_name":
                                                     "AMD Instinct MI300X"},
            "surprise": {}}]
    result = amdsmi.parse(json.dumps({"gpu_data": doc}))
    assert result.warnings == ["amd-smi: unknown sections ['surprise'] ignored"]
    assert result.samples == [amd(
        "3", uuid="0x9A2A", model="AMD Instinct MI300X", pci_bus="0000:0c:00.0",
        fields={"power_w": 250.5, "energy_j": 5.0, "sclk_mhz": 2100.0, "fan_pct": 38.82,
                "vram_total_bytes": 196592 * MIB, "vram_used_bytes": 283 * MIB},
        info={"serial": "0x9A2A"})]


def test_default_box_table_is_not_parsed_but_gives_version():
    result = amdsmi.parse(fixture("amd-smi_26.2.1_rocm7.2.0_text_default_r9700_2gpus.txt"))
    assert result.samples == [] and result.version == "26.2.1"
    assert result.warnings


@pytest.mark.parametrize("text", ["[1, 2]", '{"a": 1}', "[{]"])
def test_bad_json_raises_parse_error(text: str):
    with pytest.raises(ParseError):
        amdsmi.parse(text)
