"""rocm-smi parser (AMD and DTK's Hygon rocm-smi): full records computed by hand."""

from __future__ import annotations

import json

import pytest
from helpers import telemetry_fixture as fixture

from tokenswarm.telemetry.sample import GpuSample
from tokenswarm.telemetry.sources import rocmsmi
from tokenswarm.telemetry.sources.base import ParseError

MIB = 1048576


def amd(index: str, **kw) -> GpuSample:
    return GpuSample(tool="rocm-smi", vendor="amd", index=index, **kw)


def hygon(index: str, **kw) -> GpuSample:
    return GpuSample(tool="rocm-smi", vendor="hygon", index=index, **kw)


def test_dtk_rocm_smi_json_is_hygon_and_ignores_empty_key():
    result = rocmsmi.parse(fixture(
        "dcu-rocm-smi_dtk24.04.3_json_k1xx-ai_gpustack-flags_redacted.json"))
    assert result.warnings == []
    assert result.samples == [
        hygon("0", uuid="7100fa8866904061", model="DCU xxxx",
              fields={"power_w": 80.0, "temp_edge_c": 41.0, "temp_junction_c": 39.0,
                      "temp_mem_c": 44.0, "util_pct": 0.0,
                      "vram_total_bytes": 65520 * MIB, "vram_used_bytes": 2 * MIB,
                      "vram_used_pct": 0.0},
              info={"serial": "TPXxxxx", "device_id": "0x6210"}),
    ]


def test_2019_lowercase_c_keys():
    result = rocmsmi.parse(fixture("rocm-smi_2019-rocm2.x_json_-f-t-P_lowercase-c-units.json"))
    assert result.samples == [amd("0", fields={
        "fan_pct": 45.0, "power_w": 222.0, "temp_mem_c": 79.0, "temp_junction_c": 103.0,
        "temp_edge_c": 77.0})]


def test_rocm_624_unique_id_without_0x_and_serial_na():
    result = rocmsmi.parse(fixture("rocm-smi_6.2.4_json_rx7800xt_gpustack-flags.json"))
    assert result.warnings == []
    assert result.samples == [amd(
        "0", uuid="5c88007d760374f3", model="Navi 32 [Radeon RX 7700 XT / 7800 XT]",
        fields={"temp_edge_c": 45.0, "temp_junction_c": 51.0, "temp_mem_c": 54.0,
                "power_w": 53.0, "util_pct": 100.0, "vram_total_bytes": 17163091968,
                "vram_used_bytes": 11615076352, "vram_used_pct": 67.67},
        info={"device_id": "0x747e", "gfx_arch": "gfx11001"})]


def test_rocm_602_secondary_die_power_absent_and_system_driver():
    result = rocmsmi.parse(fixture("rocm-smi_6.0.2_json_telegraf-allflags_rx6700xt.json"))
    assert result.warnings == []
    assert result.version == "6.3.6"
    assert result.samples == [amd(
        "0", uuid="0000:07:00.0", pci_bus="0000:07:00.0",
        model="Navi 22 [Radeon RX 6700/6700 XT / 6800M]",
        fields={"temp_edge_c": 45.0, "temp_junction_c": 47.0, "temp_mem_c": 46.0,
                "mclk_mhz": 96.0, "sclk_mhz": 500.0, "power_limit_w": 211.0, "util_pct": 0.0,
                "mem_busy_pct": 0.0, "vram_total_bytes": 12868124672,
                "vram_used_bytes": 1572757504, "vram_used_pct": 12.22},
        info={"device_id": "0x73df", "perf_level": "auto", "driver_version": "6.3.6"})]


def test_mi100_system_entry_is_not_a_device():
    result = rocmsmi.parse(fixture("rocm-smi_5.7.1_json_telegraf-allflags_mi100.json"))
    assert [s.index for s in result.samples] == ["0", "1", "2", "3", "4", "5"]
    assert result.version == "6.2.4" and result.warnings == []


def test_csv_rocm_723_three_cards():
    result = rocmsmi.parse(fixture(
        "rocm-smi_7.2.3_csv_i-P-t-f-u-memuse-meminfo-productname_4x7900xtx_cards0-2_truncated.csv"))
    assert result.warnings == []
    rows = [(31.0, 37.0, 42.0, 19.0), (27.0, 35.0, 58.0, 18.0), (28.0, 34.0, 53.0, 19.0)]
    assert result.samples == [
        amd(str(i), model="Radeon RX 7900 XTX",
            fields={"temp_edge_c": e, "temp_junction_c": j, "temp_mem_c": m, "power_w": p,
                    "util_pct": 0.0, "vram_used_pct": 0.0, "mem_busy_pct": 0.0,
                    "vram_total_bytes": 25753026560, "vram_used_bytes": 27947008},
            info={"device_id": "0x744c", "gfx_arch": "gfx1100"})
        for i, (e, j, m, p) in enumerate(rows)
    ]


def test_mi300x_concise_table_has_junction_not_edge():
    result = rocmsmi.parse_text(fixture("rocm-smi_3.0.0-lib7.5.0_text_concise_mi300x.txt"))
    assert result.warnings == []
    assert result.samples == [amd("0", fields={
        "temp_junction_c": 39.0, "power_w": 191.0, "sclk_mhz": 2105.0, "mclk_mhz": 900.0,
        "fan_pct": 0.0, "power_limit_w": 750.0, "vram_used_pct": 95.0, "util_pct": 0.0},
        info={"device_id": "0x74b5", "perf_level": "auto"})]


def test_r9700_did_guid_layout_by_offsets():
    result = rocmsmi.parse(fixture("rocm-smi_2026-04_text_concise_r9700_DID-GUID-layout.txt"))
    assert result.samples == [amd("0", fields={
        "temp_edge_c": 45.0, "power_w": 31.0, "sclk_mhz": 2324.0, "mclk_mhz": 96.0,
        "fan_pct": 29.8, "power_limit_w": 210.0, "vram_used_pct": 76.0, "util_pct": 100.0},
        info={"device_id": "0x7551", "perf_level": "manual"})]


def test_vega10_vram_na_left_out():
    result = rocmsmi.parse(fixture("rocm-smi_3.3.0_text_concise_vega10_vram-NA.txt"))
    assert result.samples == [amd("1", fields={
        "temp_edge_c": 25.0, "power_w": 10.0, "sclk_mhz": 852.0, "mclk_mhz": 167.0,
        "fan_pct": 14.9, "power_limit_w": 170.0, "util_pct": 0.0},
        info={"perf_level": "auto"})]


def test_showpower_mixed_average_and_current_socket():
    result = rocmsmi.parse(fixture("rocm-smi_6.0_text_showpower_mixed-keys_excerpt.txt"))
    assert result.samples == [amd("0"), amd("1", fields={"power_w": 4.0}),
                              amd("2", fields={"power_w": 3.0})]


def test_dtk_z100l_table_with_fan_column_and_lowercase_c():
    result = rocmsmi.parse(fixture("dtk-rocm-smi_dtk23.10.1_text_z100l-32g_8cards_fan-col.txt"))
    temps = [31.0, 31.0, 31.0, 30.0, 31.0, 31.0, 31.0, 30.0]
    powers = [39.0, 39.0, 36.0, 38.0, 36.0, 38.0, 38.0, 38.0]
    assert result.samples == [
        hygon(str(i), fields={"temp_edge_c": t, "power_w": p, "fan_pct": 0.0,
                              "power_limit_w": 280.0, "vram_used_pct": 37.0 if i == 0 else 0.0,
                              "util_pct": 0.0}, info={"perf_level": "manual"})
        for i, (t, p) in enumerate(zip(temps, powers, strict=True))
    ]


def test_key_preferences_units_and_ordering():
    cards = {f"card{i}": {"GPU use (%)": str(i)} for i in (10, 9)}
    cards["card9"].update({
        "Average Graphics Package Power (W)": "150.0",
        "Current Socket Graphics Package Power (W)": "300.0",
        "GPU Memory Allocated (VRAM%)": "95", "GPU Memory Read/Write Activity (%)": "40",
        "Accumulated Energy (uJ)": "2500000", "Unique ID": "N/A", "Serial Number": "0",
        "PCI Bus": "0000:C1:00.0"})
    cards["mystery"] = {"x": "1"}
    result = rocmsmi.parse(json.dumps(cards))
    assert result.warnings == ["rocm-smi: unknown top-level key 'mystery' ignored"]
    assert result.samples == [
        amd("9", uuid="0000:c1:00.0", pci_bus="0000:c1:00.0", fields={
            "util_pct": 9.0, "power_w": 300.0, "vram_used_pct": 95.0, "mem_busy_pct": 40.0,
            "energy_j": 2.5}),
        amd("10", fields={"util_pct": 10.0}),
    ]


def test_unparsable_value_warns():
    result = rocmsmi.parse('{"card0": {"GPU use (%)": "lots"}}')
    assert result.samples == [amd("0")]
    assert result.warnings == ["rocm-smi: unparsable value 'lots' for 'GPU use (%)'"]


def test_no_json_data_raises_parse_error():
    with pytest.raises(ParseError):
        rocmsmi.parse_json("WARNING: No JSON data to report\n")


def test_version_text():
    assert rocmsmi.parse_version("Driver version: 6.3.6\n") == "6.3.6"
    assert rocmsmi.parse_version("nothing") is None


def test_sniff_reads_json_after_a_low_power_warning():
    text = ("WARNING: AMD GPU device(s) is/are in a low-power state. Check power control/"
            "runtime_status\n\n"
            '{"card0": {"GPU use (%)": "12", "Temperature (Sensor edge) (C)": "40.0"}}\n')
    result = rocmsmi.parse(text)
    assert result.samples == [amd("0", fields={"util_pct": 12.0, "temp_edge_c": 40.0})]


def test_reduced_json_flag_set_is_a_subset_that_keeps_identity():
    reduced = set(rocmsmi.JSON_ARGS_REDUCED)
    assert reduced < set(rocmsmi.JSON_ARGS)
    assert {"--json", "--showuniqueid", "--showbus", "--showproductname"} <= reduced
