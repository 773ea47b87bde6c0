"""Shared value normalisation and the tool registry."""

from __future__ import annotations

import pytest

from tokenswarm.telemetry.sources.registry import TOOLS, get_tool
from tokenswarm.telemetry.sources.units import is_na, norm_pci_bus, to_bytes, to_float


@pytest.mark.parametrize("value", ["N/A", "N/A (Secondary die)", "[N/A]", "", "  ",
                                   "Not Supported", "[Not Supported]", None,
                                   "Requested functionality has been deprecated"])
def test_na_spellings(value):
    assert is_na(value) and to_float(value) is None


@pytest.mark.parametrize(("value", "number"), [
    ("59.0C", 59.0), ("31.0c", 31.0), ("(1269Mhz)", 1269.0), ("118.0W", 118.0),
    ("0.0%", 0.0), ("45.0°C", 45.0), ("27 C", 27.0), (12, 12.0), ("Navi", None)])
def test_numbers_lose_their_units(value, number):
    assert to_float(value) == number
    assert not is_na("Navi 32")


def test_bytes_and_pci():
    assert to_bytes("65520", "MiB") == 65520 * 1048576
    assert to_bytes("81920 MiB") == 81920 * 1048576
    assert to_bytes("12", "parsecs") is None
    assert norm_pci_bus("00000000:2D:00.0") == "0000:2d:00.0"
    assert norm_pci_bus("0000:09:00.0 --> SN: 01-000206-07SCC2 --> OAM ID: 1") == "0000:09:00.0"
    assert norm_pci_bus("3b:00.0") == "0000:3b:00.0"
    assert norm_pci_bus("N/A") == norm_pci_bus("garbage") == ""


def test_registry_lists_the_four_tools():
    assert list(TOOLS) == ["hy-smi", "rocm-smi", "amd-smi", "nvidia-smi"]
    assert "/opt/hyhal/bin" in get_tool("hy-smi").search_dirs
    assert "/opt/hyhal/bin" in get_tool("rocm-smi").search_dirs
    assert get_tool("hy-smi").json_args[-1] == "--json"
    with pytest.raises(KeyError, match="known: hy-smi"):
        get_tool("xpu-smi")
