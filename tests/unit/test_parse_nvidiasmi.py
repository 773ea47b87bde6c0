"""nvidia-smi parser: XML and CSV records computed by hand from the captured outputs."""

from __future__ import annotations

import pytest
from helpers import telemetry_fixture as fixture

from tokenswarm.telemetry.sample import GpuSample
from tokenswarm.telemetry.sources import nvidiasmi
from tokenswarm.telemetry.sources.base import ParseError

MIB = 1048576


def nv(index: str, **kw) -> GpuSample:
    return GpuSample(tool="nvidia-smi", vendor="nvidia", index=index, **kw)


def test_a100_xml_v12_na_utilization_and_fan_left_out():
    result = nvidiasmi.parse(fixture("nvidia-smi_535.54.03_qx_v12_a100-sxm4.xml"))
    assert result.version == "535.54.03" and result.warnings == []
    assert result.samples == [nv(
        "0", uuid="GPU-513536b6-7d19-9063-b049-1e69664bb298", model="NVIDIA A100-SXM4-80GB",
        pci_bus="0000:01:00.0",
        fields={"power_w": 67.03, "power_limit_w": 500.0, "temp_edge_c": 27.0,
                "temp_mem_c": 44.0, "sclk_mhz": 1275.0, "mclk_mhz": 1593.0,
                "vram_total_bytes": 81920 * MIB, "vram_used_bytes": 50 * MIB,
                "vram_used_pct": 0.06},
        info={"serial": "1650522003820", "driver_version": "535.54.03"})]


def test_rtx3060_prefers_instant_power():
    result = nvidiasmi.parse_xml(fixture("nvidia-smi_570.124.04_qx_v12_rtx3060.xml"))
    assert result.samples[0].fields["power_w"] == 11.63
    assert result.samples[0].fields["power_limit_w"] == 170.0
    assert result.samples[0].pci_bus == "0000:2d:00.0"


def test_t4_all_zero_serial_is_absent():
    result = nvidiasmi.parse(fixture("nvidia-smi_515.105.01_qx_v11_tesla-t4.xml"))
    assert "serial" not in result.samples[0].info
    assert result.samples[0].fields["power_limit_w"] == 70.0


def test_v10_power_na_left_out():
    result = nvidiasmi.parse(fixture("nvidia-smi_v10_qx_gtx1070ti_trimmed.xml"))
    assert result.samples == [nv(
        "0", uuid="GPU-f9ba66fc-a7f5-94c5-da19-019ef2f9c665", model="GeForce GTX 1070 Ti",
        pci_bus="0000:01:00.0",
        fields={"util_pct": 0.0, "mem_busy_pct": 0.0, "temp_edge_c": 39.0, "sclk_mhz": 135.0,
                "mclk_mhz": 405.0, "fan_pct": 100.0, "vram_total_bytes": 4096 * MIB,
                "vram_used_bytes": 42 * MIB, "vram_used_pct": 1.03})]


def test_csv_with_header_units_and_bracketed_na():
    result = nvidiasmi.parse(fixture("nvidia-smi_csv_query_with-header-units_tesla-p100.csv"))
    assert result.warnings == []
    assert result.samples == [nv(
        "0", uuid="GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6", model="Tesla P100-PCIE-16GB",
        fields={"vram_used_bytes": 0, "util_pct": 0.0, "mem_busy_pct": 0.0,
                "temp_edge_c": 37.0, "power_w": 28.16, "sclk_mhz": 405.0, "mclk_mhz": 715.0})]


def test_headerless_csv_in_poll_query_order():
    row = ("1, GPU-abc, [N/A], 00000000:3B:00.0, \"NVIDIA GPU, PCIe\", 550.54.14, 87, 31, "
           "81559, 40000, 312.50, 700.00, 61, [Not Supported], 1980, 2619, N/A\n")
    result = nvidiasmi.parse(row)
    assert result.version == "550.54.14"
    assert result.samples == [nv(
        "1", uuid="GPU-abc", model="NVIDIA GPU, PCIe", pci_bus="0000:3b:00.0",
        fields={"util_pct": 87.0, "mem_busy_pct": 31.0, "vram_total_bytes": 81559 * MIB,
                "vram_used_bytes": 40000 * MIB, "power_w": 312.5, "power_limit_w": 700.0,
                "temp_edge_c": 61.0, "sclk_mhz": 1980.0, "mclk_mhz": 2619.0,
                "vram_used_pct": 49.04},
        info={"driver_version": "550.54.14"})]


def test_headerless_csv_of_another_query_is_refused_with_warning():
    text = fixture("nvidia-smi_csv_noheader-nounits_placeholder-NA_i3pystatus.csv")
    result = nvidiasmi.parse(text)
    assert result.samples == []
    assert "does not match the poll query" in result.warnings[0]


def test_poll_args_keep_the_header():
    assert nvidiasmi.SPEC.json_args[1] == "--format=csv,nounits"
    header = ", ".join(nvidiasmi.QUERY)
    assert nvidiasmi.parse(header + "\n").samples == []


@pytest.mark.parametrize("text", ["<nvidia_smi_log><gpu>", "<other/>"])
def test_bad_xml_raises_parse_error(text: str):
    with pytest.raises(ParseError):
        nvidiasmi.parse(text)


def test_version_text():
    assert nvidiasmi.parse_version("NVIDIA-SMI version  : 550.54.14\nDRIVER version : 550.54.14"
                                   ) == "550.54.14"


@pytest.mark.parametrize("columns", [
    ("index", "power.draw", "power.draw.instant", "power.draw.average"),
    ("index", "power.draw.average", "power.draw.instant", "power.draw"),
    ("index", "power.draw.instant", "power.draw", "power.draw.average"),
])
def test_power_preference_does_not_depend_on_column_order(columns: tuple[str, ...]):
    values = {"index": "0", "power.draw": "200.0", "power.draw.instant": "250.0",
              "power.draw.average": "190.0"}
    text = ", ".join(f"{c} [W]" for c in columns) + "\n" + ", ".join(
        values[c] for c in columns) + "\n"
    assert nvidiasmi.parse_csv(text).samples[0].fields["power_w"] == 250.0
    values["power.draw.instant"] = "[N/A]"  # older driver: the next preference
    text = ", ".join(columns) + "\n" + ", ".join(values[c] for c in columns) + "\n"
    assert nvidiasmi.parse_csv(text).samples[0].fields["power_w"] == 200.0


def test_poll_query_asks_for_instant_power_with_a_reduced_fallback():
    assert "power.draw.instant" in nvidiasmi.QUERY
    assert "power.draw.instant" not in nvidiasmi.QUERY_REDUCED
    assert set(nvidiasmi.QUERY) - set(nvidiasmi.QUERY_REDUCED) == {"power.draw.instant"}
    spec = nvidiasmi.SPEC
    assert "power.draw.instant" in spec.json_args[0]
    assert "power.draw.instant" not in spec.json_args_reduced[0]
    row = ("0, GPU-a, [N/A], 00000000:3B:00.0, A100, 550.54.14, 87, 31, 81559, 40000, "
           "312.50, 700.00, 61, [N/A], 1980, 2619, N/A, 330.25\n")
    assert nvidiasmi.parse(row).samples[0].fields["power_w"] == 330.25  # headerless, full
