"""Per-stage GPU statistics from telemetry.jsonl (what the sweep writes into summary.json)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

from tokenswarm.report.telemetry import gpu_stage_stats

S = 1_000_000_000
T0 = 1_795_660_800 * S


def _write(path, points, tail=""):
    path.write_text("".join(json.dumps(p) + "\n" for p in points) + tail)


def _gpu(t_ns, gpu="0", **fields):
    return {
        "measurement": "gpu",
        "tags": {"host": "h", "gpu": gpu, "run_id": "r"},
        "fields": fields,
        "time_ns": t_ns,
    }


def test_constant_power_two_gpus(tmp_path):
    points = [
        _gpu(
            T0 + k * S,
            g,
            power_w=300.0,
            util_pct=80.0 + 10 * int(g),
            vram_used_pct=40.0,
            temp_edge_c=50.0 + k,
            temp_junction_c=70.0,
        )
        for k in range(-2, 13)
        for g in ("0", "1")
    ]
    _write(tmp_path / "telemetry.jsonl", points, tail='{"measurement": "gpu", "ta')
    (stats,) = gpu_stage_stats(tmp_path, [(T0, T0 + 10 * S)], [12000.0])
    assert stats == {
        "util_pct": 85.0,
        "power_w": 600.0,
        "energy_j": 6000.0,
        "tokens_per_joule": 2.0,
        "vram_used_pct": 40.0,
        "temp_max_c": 70.0,
        "samples": 20,
        "gpus": 2,
    }


def test_energy_is_the_trapezoid_integral_with_interpolated_edges(tmp_path):
    # power = 100 + 10 t W sampled at t = -0.5, 0.5, ..., 10.5 s: linear, so the trapezoid
    # with interpolated edges is exact: integral over [0, 10] = 1000 + 500 = 1500 J
    points = [_gpu(T0 + int((k + 0.5) * S), power_w=100.0 + 10 * (k + 0.5)) for k in range(-1, 11)]
    _write(tmp_path / "telemetry.jsonl", points)
    (stats,) = gpu_stage_stats(tmp_path, [(T0, T0 + 10 * S)], [3000.0])
    assert math.isclose(stats["energy_j"], 1500.0, rel_tol=1e-12)
    assert math.isclose(stats["power_w"], 150.0, rel_tol=1e-12)
    assert math.isclose(stats["tokens_per_joule"], 2.0, rel_tol=1e-12)
    assert stats["util_pct"] is None and stats["temp_max_c"] is None


def test_power_na_gives_no_energy_but_keeps_utilisation(tmp_path):
    _write(tmp_path / "telemetry.jsonl", [_gpu(T0 + k * S, util_pct=50.0) for k in range(10)])
    (stats,) = gpu_stage_stats(tmp_path, [(T0, T0 + 10 * S)], [100.0])
    assert stats["util_pct"] == 50.0
    assert stats["power_w"] is stats["energy_j"] is stats["tokens_per_joule"] is None


def test_stages_without_samples_and_runs_without_telemetry(tmp_path):
    assert gpu_stage_stats(tmp_path, [(T0, T0 + S), (T0 + S, T0 + 2 * S)], [1, 2]) == [None, None]
    _write(
        tmp_path / "telemetry.jsonl",
        [
            _gpu(T0 + 5 * S, power_w=10.0),
            {"measurement": "host", "tags": {}, "time_ns": T0, "fields": {"cpu_pct": 5.0}},
        ],
    )
    first, second = gpu_stage_stats(tmp_path, [(T0, T0 + S), (T0 + 4 * S, T0 + 6 * S)], [1, 2])
    assert first is None and second["samples"] == 1 and second["energy_j"] == 20.0


def test_report_modules_do_not_import_locust_or_gevent():
    code = (
        "import sys, tokenswarm.report.telemetry, tokenswarm.report.cli, "
        "tokenswarm.report.document, tokenswarm.report.influx_source;"
        "bad = [m for m in ('locust', 'gevent') if m in sys.modules];"
        "sys.exit(f'imported: {bad}' if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
