"""Shared fixtures: real simulator processes, real Locust processes, results loading."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tokenswarm.sim.process import SimProcess

REPO = Path(__file__).resolve().parents[1]
CHAT_LOCUSTFILE = str(REPO / "locustfiles" / "openai_chat.py")
COMPLETIONS_LOCUSTFILE = str(REPO / "locustfiles" / "openai_completions.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sim_factory() -> Iterator[Any]:
    """Start simulators with given CLI args; all are stopped at the end of the test."""
    started: list[SimProcess] = []

    def start(*args: str) -> SimProcess:
        sim = SimProcess(*args).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@dataclass
class LocustRun:
    proc: subprocess.CompletedProcess[str]
    run_dir: Path

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr

    def summary(self) -> dict[str, Any]:
        path = self.run_dir / "summary.json"
        assert path.is_file(), f"no summary.json; locust output:\n{self.output[-4000:]}"
        return json.loads(path.read_text())

    def requests_csv(self) -> Any:
        import pandas as pd

        return pd.read_csv(self.run_dir / "requests.csv")


def locust_cmd(locustfile: str, host: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", locustfile, "--host", host, *args]


@pytest.fixture
def run_locust(tmp_path: Path) -> Any:
    """Run a headless Locust process to completion; returns a LocustRun."""

    def run(host: str, *args: str, locustfile: str = CHAT_LOCUSTFILE, run_id: str = "t",
            timeout: float = 180) -> LocustRun:
        results = tmp_path / "results"
        cmd = locust_cmd(locustfile, host, "--headless", "--results-dir", str(results),
                         "--run-id", run_id, *args)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        return LocustRun(proc, results / run_id)

    return run
