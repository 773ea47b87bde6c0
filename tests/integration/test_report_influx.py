"""``tokenswarm report --influx-url``: GPU and engine telemetry read back from a real influxd
give the same per-stage numbers as the run's telemetry.jsonl."""

from __future__ import annotations

import json
import urllib.request

import pytest
from report_checks import html_tables
from report_data import build_run, make_report, sweep

from tokenswarm.cli import main
from tokenswarm.influx.point import Point, encode_all

pytestmark = pytest.mark.integration


def _load_into(db, path) -> int:
    points = [json.loads(line) for line in path.read_text().splitlines()]
    lines = encode_all(
        Point(p["measurement"], p["tags"], p["fields"], p["time_ns"]) for p in points
    )
    request = urllib.request.Request(
        f"{db.url}/write?db={db.name}", data="\n".join(lines).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204
    return len(points)


def test_report_reads_gpu_telemetry_from_influxdb(tmp_path, influx_db, capsys):
    stages = sweep(
        "medium",
        {1: 300.0, 4: 1000.0, 8: 1500.0},
        util_pct=lambda u: 50.0 + 5 * u,
        power_w=lambda u: 200.0 + 10 * u,
        kv_pct=lambda u: 12.0 * u,
    )
    run = build_run(tmp_path / "a", "r-influx", stages, gpus=2, gpu_block=False)
    html_file, _ = make_report(tmp_path / "file.html", run)
    assert _load_into(influx_db, run / "telemetry.jsonl") > 0
    (run / "telemetry.jsonl").unlink()

    html, md = make_report(
        tmp_path / "influx.html",
        run,
        args=("--influx-url", influx_db.url, "--influx-database", influx_db.name),
    )
    from_file = html_tables(html_file)["efficiency"]
    from_influx = html_tables(html)["efficiency"]
    assert from_influx == from_file
    # 2 GPUs x (200 + 10 u) W; the sample at each window's end already has the next stage's
    # power, which the trapezoid's last second averages in: (9 x 420 + 450) / 10 = 423
    assert [row["power W"][1] for row in from_influx] == ["423.0", "484.0", "560.0"]
    assert "[kv_cache]" in md and "KV cache 96 % full at 8 users" in md

    assert (
        main(["report", str(run), "--influx-url", influx_db.url, "--influx-database", "missing_db"])
        == 2
    )
    assert "database not found: missing_db" in capsys.readouterr().err


def test_report_without_points_in_influxdb_says_no_telemetry(tmp_path, influx_db):
    run = build_run(tmp_path, "r-none", sweep("medium", {1: 300.0}), telemetry=False)
    _, md = make_report(
        tmp_path / "r.html",
        run,
        args=("--influx-url", influx_db.url, "--influx-database", influx_db.name),
    )
    assert "| r-none | medium@1 | no telemetry | no power data |" in md
