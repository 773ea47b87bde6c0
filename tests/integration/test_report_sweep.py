"""A real short sweep (2 scenarios x 3 levels) against a simulated engine of known capacity,
with the telemetry agent on its simulated GPUs, and the report the sweep builds from it.

The simulator's batching model makes capacity exact: a decode step takes
``base_ms + per_seq_ms * batch`` and emits one token per running sequence, at most
``max_num_seqs`` run, so closed-loop users give ``tps(u) = b / (base_ms + per_seq_ms * b)``
tokens per ms with ``b = min(u, max_num_seqs)`` (prefill at 100k tok/s adds < 1 %). Beyond
``max_num_seqs`` users queue, TTFT passes 100 ms: the saturation point is ``max_num_seqs``.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pytest
from helpers import REPO
from report_checks import html_tables, md_table, open_in_chromium, stage_table_matches

pytestmark = pytest.mark.integration
BASE_MS, PER_SEQ_MS, MAX_NUM_SEQS = 10.0, 1.0, 8
ARTIFACTS = REPO / "test-artifacts"
CONFIG = f"""
sim:
  settings: {{base_ms: {BASE_MS}, per_seq_ms: {PER_SEQ_MS}, max_num_seqs: {MAX_NUM_SEQS},
             prefill_tps: 100000}}
load:
  duration: 3s
  warmup: 1s
scenarios:
  - short:2,8,16
  - name: tiny
    input_tokens: 32
    output_tokens: 32
    concurrency: [2, 8, 16]
hardware:
  price_per_hour: 2.5
"""


def capacity_tps(users: int) -> float:
    batch = min(users, MAX_NUM_SEQS)
    return batch / (BASE_MS + PER_SEQ_MS * batch) * 1000


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    (root / "sweep.yaml").write_text(CONFIG)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tokenswarm",
            "sweep",
            "-c",
            str(root / "sweep.yaml"),
            "--results-dir",
            str(root),
            "--run-id",
            "known",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = root / "known"
    assert proc.stdout.rstrip().endswith(
        f"tokenswarm: report {run_dir / 'report.html'} (summary {run_dir / 'report.md'})"
    )
    return run_dir


def test_sweep_report_numbers_saturation_and_peak(sweep_dir):
    html = (sweep_dir / "report.html").read_text()
    md = (sweep_dir / "report.md").read_text()
    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert stage_table_matches(html, md, [summary]) == 6

    for row, stage in zip(html_tables(html)["efficiency"], summary["stages"], strict=True):
        assert stage["gpu"] is not None  # the agent ran on the simulated GPUs
        assert float(row["GPU util %"][1]) == stage["gpu"]["util_pct"]
        assert float(row["tokens/J"][1]) == stage["gpu"]["tokens_per_joule"]
        assert float(row["tokens/$"][1]) == stage["tokens_per_dollar"]
        assert math.isclose(
            stage["tokens_per_dollar"], stage["throughput"]["output_tps"] * 3600 / 2.5
        )

    saturation = {r["scenario"]: r for r in md_table(md, "| run | scenario | levels")}
    peak = capacity_tps(MAX_NUM_SEQS)
    stages = md_table(md, "| run | stage |")
    for scenario in ("short", "tiny"):
        row = saturation[scenario]
        why = f"capacity {peak:.0f} tok/s at {MAX_NUM_SEQS} users; {row}; stages: {stages}"
        assert row["saturation users"] == str(MAX_NUM_SEQS), why
        assert math.isclose(float(row["output tok/s there"]), peak, rel_tol=0.10), why
        assert math.isclose(float(row["peak output tok/s"]), peak, rel_tol=0.10), why

    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(sweep_dir / "report.html", ARTIFACTS / "report-sweep.html")
    figures = open_in_chromium(sweep_dir / "report.html", ARTIFACTS / "report-sweep.png")
    assert [f["id"] for f in figures] == [
        "fig-throughput",
        "fig-latency-short",
        "fig-latency-tiny",
        "fig-efficiency-known",
        "fig-cdf-known",
        "fig-timeseries-known",
    ]


def test_no_stage_exceeds_what_the_engine_can_deliver(sweep_dir):
    """No level reports more output tok/s than the simulator can deliver at that concurrency
    (+10 %), also the first level of a scenario that follows a heavier one: the previous
    stage's requests must not stream into its window. (An upper bound only: a slow CI machine
    lowers throughput, it cannot raise it.)"""
    summary = json.loads((sweep_dir / "summary.json").read_text())
    over = {
        s["name"]: (round(s["throughput"]["output_tps"]), round(capacity_tps(s["users"])))
        for s in summary["stages"]
        if s["throughput"]["output_tps"] > 1.10 * capacity_tps(s["users"])
    }
    assert over == {}, f"stage: (measured, capacity) output tok/s: {over}"
