"""hy-smi parser: full normalised records computed by hand from the captured outputs."""

from __future__ import annotations

import pytest
from helpers import telemetry_fixture as fixture

from tokenswarm.telemetry.sample import GpuSample
from tokenswarm.telemetry.sources import hysmi
from tokenswarm.telemetry.sources.base import ParseError

MIB = 1048576


def hy(index: str, **kw) -> GpuSample:
    return GpuSample(tool="hy-smi", vendor="hygon", index=index, **kw)


def test_k100ai_json_new_driver_hcu_keys():
    result = hysmi.parse(fixture(
        "hy-smi_json_k100ai_gpustack-flags_issue2032_cards0-1_reconstructed.json"))
    assert result.warnings == []
    assert result.samples == [
        hy("0", uuid="7137d9b2a08a4841", model="K100_AI",
           fields={"power_w": 77.0, "temp_edge_c": 37.0, "temp_junction_c": 35.0,
                   "temp_mem_c": 38.0, "temp_core_c": 35.0, "util_pct": 0.0,
                   "vram_total_bytes": 65520 * MIB, "vram_used_bytes": 2 * MIB,
                   "vram_used_pct": 0.0},
           info={"serial": "TRCW280005090201", "device_id": "0x6210"}),
        hy("1", uuid="7137d9debec858c1", model="K100_AI",
           fields={"power_w": 76.0, "temp_edge_c": 38.0, "temp_junction_c": 36.0,
                   "temp_mem_c": 40.0, "temp_core_c": 36.0, "util_pct": 0.0,
                   "vram_total_bytes": 65520 * MIB, "vram_used_bytes": 2 * MIB,
                   "vram_used_pct": 0.0},
           info={"serial": "TRCW340004110601", "device_id": "0x6210"}),
    ]


def test_z100l_json_old_driver_dcu_keys():
    result = hysmi.parse_json(fixture("hy-smi_dtk-pre25.04_json_z100l_docstring_redacted.json"))
    assert result.samples == [
        hy("0", uuid="a000000000000000", model="Z100L",
           fields={"power_w": 38.0, "temp_edge_c": 38.0, "temp_junction_c": 41.0,
                   "temp_mem_c": 39.0, "util_pct": 0.0,
                   "vram_total_bytes": 32752 * MIB, "vram_used_bytes": 2 * MIB,
                   "vram_used_pct": 0.01},
           info={"serial": "TRCW200000000000", "device_id": "0x55b7"}),
    ]


def test_bw_showbus_strips_sn_and_oam_suffix():
    result = hysmi.parse(fixture("hy-smi_drv6.3.31_json_showbus_bw_2cards_fixture.json"))
    assert result.samples == [hy("0", uuid="0000:09:00.0", pci_bus="0000:09:00.0"),
                              hy("1", uuid="0000:36:00.0", pci_bus="0000:36:00.0")]


def test_bw_meminfo_mib_to_bytes():
    result = hysmi.parse(fixture("hy-smi_drv6.3.31_json_showmeminfo-vram_bw_2cards_fixture.json"))
    assert [s.fields for s in result.samples] == [
        {"vram_total_bytes": 65520 * MIB, "vram_used_bytes": 9703 * MIB, "vram_used_pct": 14.81},
        {"vram_total_bytes": 65520 * MIB, "vram_used_bytes": 9651 * MIB, "vram_used_pct": 14.73},
    ]


# The BW capture itself is kept back; this reproduces its defects (TELEMETRY-FORMATS pitfall 1):
# missing commas between the three power keys and duplicated "": "" keys.
INVALID_BW_JSON = """{"card0": {"Card Series": "BW", "Unique ID": "TCA24620040801",
"PCI Bus": "0000:09:00.0 --> SN: 01-000206-07SCC2 --> OAM ID: 1",
"Average Graphics Package Power (W)": "87.0" "Average GFX Core Power (W)": "40.0"
"Average Memory Power (W)": "21.0", "": "", "": "",
"HCU use (%)": "12.5", "HCU memory use (%)": "15"}}"""


def test_invalid_json_is_repaired_and_reported():
    result = hysmi.parse_json(INVALID_BW_JSON)
    assert len(result.warnings) == 1 and "repaired invalid JSON" in result.warnings[0]
    assert result.samples == [
        hy("0", uuid="TCA24620040801", model="BW", pci_bus="0000:09:00.0",
           fields={"power_w": 87.0, "util_pct": 12.5, "vram_used_pct": 15.0}),
    ]


@pytest.mark.parametrize("text", ["", "garbage", '{"card0": {"a": "b" : "c"}}',
                                  "WARNING: No JSON data to report"])
def test_unrepairable_json_raises_parse_error(text: str):
    with pytest.raises(ParseError):
        hysmi.parse_json(text)


def test_non_object_json_raises_parse_error():
    with pytest.raises(ParseError):
        hysmi.parse_json("[1, 2]")


def test_unknown_key_warns_but_parses():
    result = hysmi.parse_json('{"card0": {"Brand New Metric (%)": "3", "HCU use (%)": "N/A"}}')
    assert result.samples == [hy("0")]  # N/A leaves the field out, never 0
    assert result.warnings == ["hy-smi: unknown key 'Brand New Metric (%)' ignored"]


def _table(temps, powers, cap, vram, util, perf="auto", mode="Normal"):
    return [
        hy(str(i), fields={"temp_edge_c": t, "power_w": p, "power_limit_w": cap,
                           "vram_used_pct": vram, "util_pct": util},
           info={"perf_level": perf, **({"mode": mode} if mode else {})})
        for i, (t, p) in enumerate(zip(temps, powers, strict=True))
    ]


def test_k100ai_8card_idle_hcu_table():
    result = hysmi.parse_text(fixture("hy-smi_dtk25.04-drv6.3_text_k100ai_8cards_idle.txt"))
    assert result.warnings == []
    assert result.samples == _table(
        [59.0, 61.0, 60.0, 59.0, 60.0, 62.0, 58.0, 58.0],
        [114.0, 109.0, 106.0, 107.0, 118.0, 113.0, 106.0, 115.0], 400.0, 0.0, 0.0)


def test_8card_training_busy_with_dec_enc_columns_and_no_separator():
    result = hysmi.parse(fixture("hy-smi_hcu-dec-enc_text_8cards_training-busy_a.txt"))
    assert result.warnings == []
    assert result.samples == _table(
        [55.0, 53.0, 57.0, 57.0, 51.0, 51.0, 57.0, 60.0],
        [511.0, 504.0, 481.0, 499.0, 489.0, 515.0, 521.0, 519.0], 800.0, 98.0, 100.0,
        perf="manual")


def test_dcu_table_mode_na_is_left_out():
    result = hysmi.parse(fixture("hy-smi_dtk24.04_text_dcu-layout_4cards_mode-na.txt"))
    assert result.samples == _table([49.0, 48.0, 47.0, 47.0], [25.0, 24.0, 22.0, 24.0],
                                    300.0, 0.0, 0.0, mode="")


def test_empty_card_series_gives_blank_model():
    result = hysmi.parse(fixture("hy-smi_text_showproductname_k100_empty-card-series.txt"))
    assert result.samples == [hy("0")]
    assert result.warnings == []


def test_product_name_lines_grouped_by_index():
    result = hysmi.parse(fixture("hy-smi_dtk25.04-drv6.3_text_a_excerpt-productname_k100ai.txt"))
    assert result.samples == [hy(str(i), model="K100_AI") for i in range(8)]


def test_driver_version_text():
    text = fixture("hy-smi_drv6.3.31_text_showdriverversion_fixture.txt")
    assert hysmi.parse_version(text) == "6.3.31-V1.5.0a"
    assert hysmi.parse(text).version == "6.3.31-V1.5.0a"


def test_garbage_text_gives_empty_result_with_warning():
    result = hysmi.parse_text("segmentation fault\n")
    assert result.samples == []
    assert result.warnings == ["hy-smi: no device table or per-device lines found in text output"]


def test_json_followed_by_text_holding_braces():
    # jsonfix: text after the object that contains "}" must not hide the object
    text = ('{"card0": {"HCU use (%)": "12.0"}, "card1": {"HCU use (%)": "13.0"}}\n'
            "WARNING: something {odd} happened\n")
    result = hysmi.parse_json(text)
    assert [s.fields["util_pct"] for s in result.samples] == [12.0, 13.0]
    assert result.warnings == ["hy-smi: repaired invalid JSON; ignored text around the JSON object"]


def test_json_after_text_with_a_brace_and_before_a_topology_table():
    text = ('note: {x} first\n{"card0": {"HCU use (%)": "12.0"}\n, "card1": {"HCU use (%)": '
            '"13.0"}}\n========= Hardware Topology =========\n        HCU0   HCU1\n')
    assert [s.index for s in hysmi.parse_json(text).samples] == ["0", "1"]


def test_sniff_reads_json_that_starts_after_a_line_of_text():
    text = ("kubectl exec [POD] [COMMAND] is DEPRECATED and will be removed.\n\n"
            '{"card0": {"HCU use (%)": "12.0", "Unique ID": "7137d9b2a08a4841"}}\n')
    result = hysmi.parse(text)
    assert result.samples == [hy("0", uuid="7137d9b2a08a4841", fields={"util_pct": 12.0})]


def test_reduced_json_flag_set_drops_only_the_refusable_flags():
    full, reduced = set(hysmi.JSON_ARGS), set(hysmi.JSON_ARGS_REDUCED)
    assert full - reduced == {"--showpower", "--showclocks", "--showmeminfo", "vram"}
    assert reduced < full and "--json" in reduced and "--showuniqueid" in reduced
    assert hysmi.SPEC.json_args_reduced == hysmi.JSON_ARGS_REDUCED


def test_secondary_die_na_cell_does_not_shift_columns():
    text = """\
============================ System Management Interface =============================
======================================================================================
DCU     Temp     AvgPwr     Perf     PwrCap     VRAM%      DCU%      Mode
0       49.0C    N/A (Secondary die)      auto     300.0W     0%         0%        N/A
1       48.0C    24.0W      auto     300.0W     0%         0%        N/A
"""
    result = hysmi.parse_text(text)
    assert result.warnings == []
    assert result.samples == [
        hy("0", fields={"temp_edge_c": 49.0, "power_limit_w": 300.0, "vram_used_pct": 0.0,
                        "util_pct": 0.0}, info={"perf_level": "auto"}),
        hy("1", fields={"temp_edge_c": 48.0, "power_w": 24.0, "power_limit_w": 300.0,
                        "vram_used_pct": 0.0, "util_pct": 0.0}, info={"perf_level": "auto"}),
    ]


def test_blank_line_between_header_and_rows_does_not_end_the_table():
    text = """\
============================ System Management Interface =============================
DCU     Temp     AvgPwr     Perf     PwrCap     VRAM%      DCU%      Mode

0       49.0C    25.0W      auto     300.0W     0%         0%        N/A
1       48.0C    24.0W      auto     300.0W     0%         0%        N/A
"""
    assert [s.fields["power_w"] for s in hysmi.parse_text(text).samples] == [25.0, 24.0]


def test_vram_used_pct_derived_only_from_both_byte_counts():
    both = hysmi.parse_json('{"card0": {"vram Total Memory (MiB)": "65520", '
                            '"vram Total Used Memory (MiB)": "16380"}}')
    assert both.samples[0].fields["vram_used_pct"] == 25.0
    printed = hysmi.parse_json('{"card0": {"vram Total Memory (MiB)": "65520", '
                               '"vram Total Used Memory (MiB)": "16380", '
                               '"HCU memory use (%)": "98"}}')
    assert printed.samples[0].fields["vram_used_pct"] == 98.0  # the tool's own value wins
    one = hysmi.parse_json('{"card0": {"vram Total Memory (MiB)": "65520"}}')
    assert "vram_used_pct" not in one.samples[0].fields
    zero = hysmi.parse_json('{"card0": {"vram Total Memory (MiB)": "0", '
                            '"vram Total Used Memory (MiB)": "0"}}')
    assert "vram_used_pct" not in zero.samples[0].fields
