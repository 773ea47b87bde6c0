"""The simulated engine drives a simulated GPU that the unmodified agent reads through the
real rocm-smi JSON parser: utilisation rises above idle under load and falls back after."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path

import pytest
from helpers import wait_for

from tokenswarm.sim.fakesmi import install
from tokenswarm.sim.rawclient import stream
from tokenswarm.telemetry.process import AgentProcess

pytestmark = pytest.mark.integration


def _load(url: str, streams: int, tokens: int) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    body = {"model": "tokenswarm-sim", "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": tokens, "ignore_eos": True, "stream": True}

    async def run() -> None:
        await asyncio.gather(*(stream(host, int(port), "/v1/chat/completions", body)
                               for _ in range(streams)))

    asyncio.run(run())


def _points(path: Path, measurement: str) -> list[dict]:
    if not path.is_file():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line]
    return [p for p in lines if p["measurement"] == measurement]


def test_utilisation_follows_the_simulated_engine(sim_factory, tmp_path: Path):
    sim = sim_factory("--base-ms", "10")
    install(tmp_path, "rocm-smi", "--engine-url", sim.url, "--cards", "2",
            "--state", str(tmp_path / "gpu-state.json"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSWARM_")}
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    jsonl = tmp_path / "r" / "sim" / "telemetry.jsonl"
    args = ("--sources", "rocm-smi,engine,host", "--engine-url", sim.url, "--interval-s", "0.2",
            "--run-id", "sim", "--results-dir", str(tmp_path / "r"))
    with AgentProcess(*args, env=env) as agent:
        wait_for(lambda: len(_points(jsonl, "gpu")) >= 4, 15, "idle GPU points")
        assert {p["fields"]["util_pct"] for p in _points(jsonl, "gpu")} == {0.0}
        idle_power = _points(jsonl, "gpu")[0]["fields"]["power_w"]
        # ~1.5 s of streaming: 4 requests x 150 tokens at ~10 ms per batched step
        loader = threading.Thread(target=_load, args=(sim.url, 4, 150))
        loader.start()
        busy = wait_for(lambda: [p for p in _points(jsonl, "gpu")
                                 if p["fields"]["util_pct"] > 50], 15, "a busy GPU point")
        loader.join(30)
        done_ns = time.time_ns()
        wait_for(lambda: [p for p in _points(jsonl, "gpu") if p["time_ns"] > done_ns + 3e8
                          and p["fields"]["util_pct"] == 0.0], 15, "GPU idle again")
        summary = agent.stop()
    assert summary["errors"] == 0, agent.output()
    assert busy[0]["fields"]["power_w"] > idle_power
    assert busy[0]["tags"]["model"] == "AMD Instinct MI300X"
    engine = _points(jsonl, "engine")
    assert max(p["fields"]["requests_running"] for p in engine) >= 1
    assert engine[-1]["fields"]["generation_tokens_total"] == 4 * 150
    assert sim.stats()["busy_seconds"] > 1.0
