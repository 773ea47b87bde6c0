"""The report's tables show summary.json's numbers: exactly in the HTML's data-value, rounded
to 2 decimals (integers as they are) in the cell text and in the Markdown."""

from __future__ import annotations

import json
import math

import pytest
from report_checks import html_tables, md_table, stage_table_matches
from report_data import Stage, build_run, make_report, sweep

from tokenswarm.report.model import fmt

GPU_COLUMNS = {
    "GPU util %": "util_pct",
    "power W": "power_w",
    "energy J": "energy_j",
    "tokens/J": "tokens_per_joule",
    "VRAM used %": "vram_used_pct",
    "temp max °C": "temp_max_c",
}


@pytest.fixture
def two_runs(tmp_path):
    a = build_run(
        tmp_path,
        "r-a",
        [
            *sweep(
                "short",
                {1: 312.345678, 4: 1111.111, 16: 1876.54321},
                ttft_p99=lambda u: 20.123 * u,
                itl_p99=7.777,
            ),
            *sweep("long", {1: 123.456, 8: 777.0049}, input_tokens=1024, output_tokens=512),
        ],
        price_per_hour=3.5,
    )
    b = build_run(
        tmp_path, "r-b", [Stage("short", 4, 999.995, errors={"http_429": 3})], telemetry=False
    )
    return tmp_path, a, b


def test_stage_and_gpu_tables_equal_summary_json(two_runs):
    root, a, b = two_runs
    html, md = make_report(root / "out.html", a, b)
    summaries = [json.loads((d / "summary.json").read_text()) for d in (a, b)]
    assert stage_table_matches(html, md, summaries) == 6
    expected = [(s["run_id"], st) for s in summaries for st in s["stages"]]
    gpu_rows = html_tables(html)["efficiency"]
    md_gpu = md_table(md, "| run | stage | GPU util %")
    for html_row, md_row, (run_id, stage) in zip(gpu_rows, md_gpu, expected, strict=True):
        for column, key in GPU_COLUMNS.items():
            value = (stage["gpu"] or {}).get(key)
            text, exact = html_row[column]
            if value is None:
                assert exact is None and text == md_row[column]
            else:
                assert float(exact) == value and text == md_row[column] == fmt(value)
        tpd = stage["tokens_per_dollar"]
        assert float(html_row["tokens/$"][1]) == tpd
        price = 3.5 if run_id == "r-a" else 2.0
        assert math.isclose(tpd, stage["throughput"]["output_tps"] * 3600 / price)


def test_no_telemetry_run_still_reports_no_power_data(two_runs):
    root, _, b = two_runs
    html, md = make_report(root / "only-b.html", b)
    row = html_tables(html)["efficiency"][0]
    assert row["tokens/J"] == ("no power data", None)
    assert row["energy J"] == ("no power data", None)
    assert row["GPU util %"] == ("no telemetry", None)
    verdicts = {r["check"][0]: r for r in html_tables(html)["verdicts"]}
    assert verdicts["GPU utilisation %"]["value"][0] == "no telemetry"
    assert verdicts["GPU utilisation %"]["verdict"][0] == "n/a"
    assert "no power data" in md_table(md, "| run | stage | GPU util %")[0]["tokens/J"]


def test_fmt_is_the_documented_rounding():
    assert fmt(1876.54321) == "1876.54"
    assert fmt(2.0) == "2.00" and fmt(1234.5) == "1234.50" and fmt(-0.125) == "-0.12"
    assert fmt(16) == "16" and fmt(None) == "-" and fmt(float("nan")) == "-"
