"""A worker killed mid-run (SIGKILL by its PID): the master carries on, the run ends normally,
the loss is recorded in the summary, and with ``--enable-rebalancing`` the surviving workers
take over the lost worker's users."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pandas as pd
import pytest
from helpers import free_port, wait_for
from record_dumps import peak_concurrency, read_dumps

from tokenswarm.launch.nodes import master_command, worker_command

pytestmark = pytest.mark.integration

USERS, WORKERS = 6, 3
MISSING_AFTER_S = 5.0  # Locust marks a silent worker missing after ~3-4 s of heartbeats


def _rows_from_all_workers(csv_path) -> bool:
    if not csv_path.is_file() or csv_path.stat().st_size == 0:
        return False
    return pd.read_csv(csv_path)["worker"].nunique() == WORKERS


def test_killed_worker_is_recorded_and_its_users_move(sim_factory, tmp_path):
    sim = sim_factory("--preset", "default")
    port, dumps, results = free_port(), tmp_path / "dumps", tmp_path / "results"
    workers = [
        subprocess.Popen(
            worker_command("127.0.0.1", port, 1),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(WORKERS)
    ]
    master = subprocess.Popen(
        master_command(
            WORKERS,
            "127.0.0.1",
            port,
            60,
            [
                "--host",
                sim.url,
                "-u",
                str(USERS),
                "-r",
                str(USERS),
                "-t",
                "12s",
                "--warmup",
                "1",
                "--stop-timeout",
                "5",
                "--enable-rebalancing",
                "--output-tokens",
                "32",
                "--input-tokens",
                "32",
                "--results-dir",
                str(results),
                "--run-id",
                "loss",
                "--dump-records",
                str(dumps),
                "OpenAIChatUser",
            ],
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: _rows_from_all_workers(results / "loss" / "requests.csv"),
            30,
            "requests from every worker in requests.csv",
        )
        victim = workers[0]
        os.kill(victim.pid, signal.SIGKILL)
        killed_ns = time.time_ns()
        _, err = master.communicate(timeout=90)
    finally:
        for proc in [master, *workers]:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert master.returncode == 0, err[-3000:]
    assert victim.returncode == -signal.SIGKILL

    summary = json.loads((results / "loss" / "summary.json").read_text())
    lost = summary["config"]["workers_lost"]
    assert len(lost) == 1 and lost[0] in summary["workers"], (lost, summary["workers"])
    assert summary["stages"][0]["workers_lost"] == lost  # the stage it died in is flagged
    assert "no final report from workers" in err
    assert summary["requests"]["ok"] > 0

    rows = pd.read_csv(results / "loss" / "requests.csv")
    victim_name = f"{socket.gethostname().split('.')[0]}:{victim.pid}"
    assert (rows["worker"] == victim_name).any(), "the lost worker's reported rows are kept"
    assert rows.loc[rows["worker"] == victim_name, "start_unix_ns"].max() < killed_ns

    survivors = read_dumps(dumps)
    survivors.pop(victim.pid, None)  # SIGKILL: its buffered dump is incomplete
    assert len(survivors) == WORKERS - 1
    after = killed_ns + int(MISSING_AFTER_S * 1e9)
    # rebalanced: the 6 users now run on 2 workers, 3 streams each
    assert [peak_concurrency(r, after_ns=after) for r in survivors.values()] == [3, 3]
