"""amd-smi parser: list vs gpu_data wrapper, value/unit leaves, N/A leaves and sections."""

from __future__ import annotations

import json

import pytest
from helpers import telemetry_fixture as fixture

from tokenswarm.telemetry.sample import GpuSample
from tokenswarm.telemetry.sources import amdsmi
from tokenswarm.telemetry.sources.base import ParseError

MIB = 1048576


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
                "vram_total_bytes": 196592 * MIB, "vram_used_bytes": 283 * MIB,
                "vram_used_pct": 0.14},
        info={"serial": "0x9A2A"})]


def test_default_box_table_is_not_parsed_but_gives_version():
    result = amdsmi.parse(fixture("amd-smi_26.2.1_rocm7.2.0_text_default_r9700_2gpus.txt"))
    assert result.samples == [] and result.version == "26.2.1"
    assert result.warnings


@pytest.mark.parametrize("text", ["[1, 2]", '{"a": 1}', "[{]"])
def test_bad_json_raises_parse_error(text: str):
    with pytest.raises(ParseError):
        amdsmi.parse(text)


def _static(entries: list[dict], wrap: bool) -> str:
    return json.dumps({"gpu_data": entries} if wrap else entries)


STATIC_MI300X = {
    "gpu": 0,
    "asic": {"market_name": "AMD Instinct MI300X", "vendor_id": "0x1002", "device_id": "0x74a1",
             "asic_serial": "0x4C2A1F0D8E9B3C51", "target_graphics_version": "gfx942"},
    "bus": {"bdf": "0000:0C:00.0", "max_pcie_width": 16},
    "vbios": {"version": "022.040.003.041.000001"},
    "limit": {"max_power": {"value": 750, "unit": "W"},
              "socket_power": {"value": 750, "unit": "W"}},
    "driver": {"name": "amdgpu", "version": "6.8.5"},
    "board": {"product_serial": "692251001124", "product_name": "Instinct MI300X Platform"},
    "ras": {"eeprom_version": "N/A"}, "numa": {"node": 0, "affinity": 0},
}


@pytest.mark.parametrize("wrap", [False, True])  # ROCm 6.x list, AMDSMI 26.x gpu_data
def test_static_capture_joined_into_real_metric_capture(wrap: bool):
    result = amdsmi.parse(fixture("amd-smi_26.0.2_rocm7.0.2_json_metric_mi300x_trimmed.json"))
    metric_fields = dict(result.samples[0].fields)
    assert result.samples[0].uuid == "" and "power_limit_w" not in metric_fields  # metric alone
    warnings = amdsmi.merge_static(result.samples, _static([STATIC_MI300X], wrap))
    assert warnings == []
    assert result.samples == [amd(
        "0", uuid="0x4C2A1F0D8E9B3C51", model="AMD Instinct MI300X", pci_bus="0000:0c:00.0",
        fields={**metric_fields, "power_limit_w": 750.0},
        info={"serial": "0x4C2A1F0D8E9B3C51", "device_id": "0x74a1",
              "driver_version": "6.8.5"})]


def test_static_newer_limit_layout_and_na_leaves():
    samples = amdsmi.parse('[{"gpu": 1, "usage": {"gfx_activity": {"value": 5, "unit": "%"}}}]'
                           ).samples
    static = [{"gpu": 1, "asic": {"market_name": "N/A", "asic_serial": "N/A"},
               "board": {"product_name": "Radeon AI PRO R9700", "product_serial": "N/A"},
               "bus": {"bdf": "0000:03:00.0"},
               "limit": {"ppt0": {"socket_power_limit": {"value": 300, "unit": "W"}}}}]
    assert amdsmi.merge_static(samples, json.dumps(static)) == []
    assert samples == [amd("1", uuid="0000:03:00.0", model="Radeon AI PRO R9700",
                           pci_bus="0000:03:00.0",
                           fields={"util_pct": 5.0, "power_limit_w": 300.0})]


def test_static_merge_reports_unreadable_output_and_missing_gpu():
    samples = amdsmi.parse('[{"gpu": 0}, {"gpu": 1}]').samples
    assert amdsmi.merge_static(samples, "not json") == [
        "amd-smi: static output not understood: amd-smi: output is not JSON and could not be "
        "repaired (Expecting value: line 1 column 1 (char 0))"]
    assert amdsmi.merge_static(samples, json.dumps([STATIC_MI300X])) == [
        "amd-smi: static output has no gpu 1"]
    assert samples[0].uuid == "0x4C2A1F0D8E9B3C51" and samples[1].uuid == ""


def test_json_after_a_warning_line():
    text = ("WARNING: AMD GPU device(s) is/are in a low-power state.\n"
            '[{"gpu": 0, "usage": {"gfx_activity": {"value": 7, "unit": "%"}}}]\n')
    result = amdsmi.parse(text)
    assert [s.fields for s in result.samples] == [{"util_pct": 7.0}]
