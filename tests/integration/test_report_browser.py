"""The HTML report opens in headless Chromium without console errors, loads nothing from the
network, and renders every plot (an inline SVG with drawn paths and a non-zero size). A
full-page screenshot and the HTML are kept under test-artifacts/ for CI."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from helpers import REPO
from report_checks import open_in_chromium
from report_data import build_run, sweep

pytestmark = pytest.mark.integration
ARTIFACTS = REPO / "test-artifacts"


def test_report_renders_every_plot_in_chromium(tmp_path):
    one = build_run(
        tmp_path,
        "one-card",
        [
            *sweep(
                "short",
                {1: 300.0, 2: 580.0, 4: 1000.0, 8: 1500.0},
                ttft_p99=lambda u: 30.0 + 10 * u,
                kv_pct=lambda u: 11.0 * u,
            ),
            *sweep("long", {1: 150.0, 4: 500.0}, input_tokens=1024, output_tokens=512),
        ],
    )
    eight = build_run(
        tmp_path,
        "eight-cards",
        sweep("short", {8: 2300.0, 32: 7600.0}),
        accelerators=8,
        telemetry=False,
    )
    out = tmp_path / "report.html"
    proc = subprocess.run(
        [sys.executable, "-m", "tokenswarm", "report", str(one), str(eight), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"tokenswarm: report {out} (summary {out.with_suffix('.md')})"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(out, ARTIFACTS / "report-synthetic.html")

    figures = open_in_chromium(out, ARTIFACTS / "report-synthetic.png")
    # throughput; latency for short and long; then per run: efficiency, CDF, time series
    assert [f["id"] for f in figures] == [
        "fig-throughput",
        "fig-latency-short",
        "fig-latency-long",
        "fig-efficiency-one-card",
        "fig-efficiency-eight-cards",
        "fig-cdf-one-card",
        "fig-timeseries-one-card",
        "fig-cdf-eight-cards",
        "fig-timeseries-eight-cards",
    ]
    assert (ARTIFACTS / "report-synthetic.png").stat().st_size > 50_000
