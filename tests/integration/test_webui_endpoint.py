"""The web UI's HTTP side in a local (single-process) run: start checks, the JSON endpoint,
the LLM tab's rows in /stats/requests, and the chart script on the page."""

from __future__ import annotations

import subprocess

import pytest
import requests
from helpers import REPO, free_port, locust_cmd, wait_for

pytestmark = pytest.mark.integration

LOCUSTFILE = str(REPO / "src" / "tokenswarm" / "loadgen" / "locustfile.py")


def test_start_checks_endpoint_and_tab_rows(sim_factory, tmp_path):
    sim = sim_factory("--preset", "fixed")
    port = free_port()
    with (tmp_path / "locust.log").open("w") as log:
        proc = subprocess.Popen(
            locust_cmd(LOCUSTFILE, sim.url, "--web-host", "127.0.0.1", "--web-port", str(port),
                       "--results-dir", str(tmp_path / "results"), "--stop-timeout", "5"),
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _exercise(f"http://127.0.0.1:{port}", sim.url)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _exercise(ui: str, target: str) -> None:
    def live() -> dict:
        return requests.get(ui + "/tokenswarm/summary.json", timeout=5).json()

    def up() -> bool:
        try:
            return requests.get(ui + "/", timeout=1).ok
        except requests.ConnectionError:
            return False

    wait_for(up, 30, "the web UI")
    before = live()
    assert before["schema"] == "tokenswarm.live/1"
    assert (before["state"], before["stages"], before["summary"]) == ("ready", [], None)
    page = requests.get(ui + "/", timeout=5).text
    assert '<script src="./tokenswarm/assets/llm-tab.js" defer></script>' in page
    script = requests.get(ui + "/tokenswarm/assets/llm-tab.js", timeout=5)
    assert script.ok and "tokenswarm-charts" in script.text

    form = {"user_count": 2, "spawn_rate": 2, "host": target, "output_tokens": 8}
    refused = {
        "host": (f"http://127.0.0.1:{free_port()}", "cannot reach"),
        "dataset": ("/nonexistent/prompts.jsonl", "prompts.jsonl"),
        "output_tokens": ("many", "output-tokens: 'many' is not a valid value"),
    }
    for key, (value, message) in refused.items():
        answer = requests.post(ui + "/swarm", data={**form, key: value}, timeout=30).json()
        assert answer["success"] is False and message in answer["message"], answer
        assert "\n" not in answer["message"]
    assert live()["state"] == "ready", "a refused start started nothing"

    assert requests.post(ui + "/swarm", data=form, timeout=30).json()["success"]

    def measured() -> dict | None:
        doc = live()
        stages = (doc["summary"] or {}).get("stages", [])
        return doc if stages and stages[0]["requests"]["ok"] >= 10 else None

    doc = wait_for(measured, 30, "10 measured requests in summary.json")
    stage = doc["summary"]["stages"][0]
    assert stage["output_tokens"] == 8 and stage["users"] == 2
    assert abs(stage["metrics"]["ttft_ms"]["p50"] - 80.0) <= 3.0, stage["metrics"]["ttft_ms"]
    assert doc["stages"][0]["state"] in ("measuring", "warm-up")
    assert doc["summary"]["ended_at"] is None

    stats = requests.get(ui + "/stats/requests", timeout=5).json()
    (tab,) = stats["extended_stats"]
    assert tab["key"] == "llm"
    (row,) = tab["data"]
    assert row["stage"] == "0 run" and row["users"] == 2 and row["ok"] >= 10
    assert row["ttft_ms"].count(" / ") == 2

    requests.post(ui + "/stop", timeout=30)
    wait_for(lambda: live()["summary"]["ended_at"] is not None, 20, "the run to finish")
    assert live()["in_flight"] == 0
