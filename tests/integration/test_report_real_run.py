"""A real run reported: the simulated engine, the telemetry agent on the simulated GPU (fake
rocm-smi, 2 cards) writing results/<id>/telemetry.jsonl, ``tokenswarm run`` writing
summary.json and requests.csv into the same folder, then ``tokenswarm report`` on it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
from helpers import wait_for
from report_checks import html_tables, stage_table_matches

from tokenswarm.sim.fakesmi import install
from tokenswarm.telemetry.process import AgentProcess

pytestmark = pytest.mark.integration


def test_report_of_a_real_run_with_simulated_gpu_telemetry(sim_factory, tmp_path):
    sim = sim_factory("--base-ms", "10")
    install(
        tmp_path,
        "rocm-smi",
        "--engine-url",
        sim.url,
        "--cards",
        "2",
        "--state",
        str(tmp_path / "gpu-state.json"),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSWARM_")}
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    results, run_dir = tmp_path / "results", tmp_path / "results" / "real"
    jsonl = run_dir / "telemetry.jsonl"
    agent_args = (
        "--sources",
        "rocm-smi,engine,host",
        "--engine-url",
        sim.url,
        "--interval-s",
        "0.25",
        "--run-id",
        "real",
        "--results-dir",
        str(results),
    )
    with AgentProcess(*agent_args, env=env):
        wait_for(lambda: jsonl.is_file() and '"gpu"' in jsonl.read_text(), 15, "GPU points")
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "tokenswarm",
                "run",
                "--host",
                sim.url,
                "-u",
                "8",
                "-t",
                "4s",
                "--warmup",
                "1",
                "--run-id",
                "real",
                "--results-dir",
                str(results),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = subprocess.run(
        [sys.executable, "-m", "tokenswarm", "report", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    html = (run_dir / "report.html").read_text()
    md = (run_dir / "report.md").read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert stage_table_matches(html, md, [summary]) == 1

    (gpu,) = html_tables(html)["efficiency"]
    util, power, energy, per_joule = (
        float(gpu[c][1]) for c in ("GPU util %", "power W", "energy J", "tokens/J")
    )
    stage = summary["stages"][0]
    seconds, output_tps = stage["window"]["seconds"], stage["throughput"]["output_tps"]
    assert 0 < util <= 100 and power > 0
    assert math.isclose(energy, power * seconds, rel_tol=1e-9)
    assert math.isclose(per_joule, output_tps * seconds / energy, rel_tol=1e-9)
    assert gpu["tokens/$"][0] == "no price per hour"
    for figure in ("fig-cdf-real", "fig-timeseries-real"):
        assert f'<figure id="{figure}"><svg' in html
