"""Shared fixtures: real simulator processes and real Locust processes."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import CHAT_LOCUSTFILE, LocustRun, locust_cmd
from influxd import Influxd, InfluxDb

from tokenswarm.sim.process import SimProcess


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


@pytest.fixture(scope="session")
def influxd() -> Iterator[Influxd]:
    """One real influxd for the session (starts in ~25 ms); tests use their own databases."""
    server = Influxd().start()
    yield server
    server.cleanup()


@pytest.fixture
def own_influxd() -> Iterator[Influxd]:
    """A private influxd for tests that stop or restart the server."""
    server = Influxd().start()
    yield server
    server.cleanup()


@pytest.fixture
def influx_db(influxd: Influxd) -> InfluxDb:
    """A fresh, created database on the session influxd (``.name``, ``.query(influxql)``)."""
    return InfluxDb(influxd.url, f"t_{uuid.uuid4().hex[:12]}").create()
