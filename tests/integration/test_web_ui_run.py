"""A run started and stopped through Locust's web UI writes results with the UI's options."""

from __future__ import annotations

import json
import subprocess

import pytest
import requests
from helpers import CHAT_LOCUSTFILE, free_port, locust_cmd, wait_for

pytestmark = pytest.mark.integration


def test_start_and_stop_from_the_web_ui(sim_factory, tmp_path):
    sim = sim_factory("--preset", "default")
    port = free_port()
    results = tmp_path / "results"
    proc = subprocess.Popen(
        locust_cmd(CHAT_LOCUSTFILE, sim.url, "--web-host", "127.0.0.1", "--web-port", str(port),
                   "--results-dir", str(results), "--run-id", "ui"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    ui = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            try:
                return requests.get(ui + "/", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_for(up, 30, "the web UI")
        started = requests.post(ui + "/swarm", data={
            "user_count": 4, "spawn_rate": 4, "host": sim.url, "output_tokens": 16,
        }, timeout=10).json()
        assert started["success"], started

        def served() -> bool:
            stats = requests.get(ui + "/stats/requests", timeout=5).json()
            return any(row["num_requests"] >= 20 for row in stats["stats"])

        wait_for(served, 60, "20 requests")
        assert requests.post(ui + "/stop", timeout=30).ok
        summary_path = results / "ui" / "summary.json"
        wait_for(summary_path.is_file, 30, "summary.json after stop")
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    summary = json.loads(summary_path.read_text())
    assert summary["config"]["output_tokens"] == 16, output[-2000:]
    ok = summary["requests"]["ok"]
    assert ok >= 20
    # the edited option reached the users: every answer was exactly 16 tokens long
    assert summary["tokens"]["output_tokens"] == 16 * ok
    assert summary["tokens"]["short_outputs"] == 0
