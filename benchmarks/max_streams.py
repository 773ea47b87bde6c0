"""Most concurrent open streams one machine drives through a Locust master + workers.

Run from the repository root (about 2.5 minutes)::

    .venv/bin/python benchmarks/max_streams.py [--streams 10000] [--workers 2]

Setup: the simulated engine on its fixed schedule (every token at ``accept + ttft + i * itl``,
whatever the load; default TTFT 500 ms, ITL 3 s, 8 output tokens: ~22 s streams, a low token
rate), ``--streams`` closed-loop Locust users (one open stream each) spread over ``--workers``
worker processes by a headless master, all on this machine. The file-descriptor limit is
raised to its hard limit first (each stream holds a socket in a worker and one in the engine).

Measured:

- concurrency: the engine's in-flight streams (``/sim/stats`` ``running``), sampled every
  second during the steady window: median and max;
- token rate: the run's ``output_tps`` (summary.json, token-time accounting, warm-up = the
  ramp, excluded);
- timing error, exact per request (requests.csv, measured requests that ended ok): first-token
  lateness = ``ttft_ms - ttft`` and last-token lateness = ``e2e_ms - (ttft + (n - 1) * itl)``
  (the engine emits on schedule, so any lateness is the client's: reading, parsing, its event
  loop), for the steady state (requests that ended before the stop began) and for all of them
  (the stop of thousands of users is itself a CPU burst on the workers); plus the ITL
  histogram's percentiles minus the ITL (its buckets are 2 % wide at seconds: +-30 ms at 3 s);
- CPU of each worker process, the master and the engine (psutil, over the steady window).

Per-worker capacity = streams / workers and token events per second / workers at that CPU and
timing error: the figures to plan a cluster with.
"""

from __future__ import annotations

import argparse
import json
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from tokenswarm.launch.nodes import master_command, worker_command
from tokenswarm.sim.process import SimProcess


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (children inherit it)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(args: argparse.Namespace) -> dict[str, Any]:
    fd_limit = raise_fd_limit()
    ramp_s = args.streams / args.spawn_rate
    warmup_s = ramp_s + args.ttft_ms / 1000 + 2
    run_s = int(warmup_s + args.steady_s)
    stream_s = (args.ttft_ms + args.itl_ms * (args.output_tokens - 1)) / 1000
    results = Path(tempfile.mkdtemp(prefix="max-streams-"))
    port = _free_port()
    sim_args = ("--preset", "fixed", "--ttft-ms", str(args.ttft_ms), "--itl-ms", str(args.itl_ms))
    with SimProcess(*sim_args) as sim:
        workers = [
            subprocess.Popen(
                worker_command("127.0.0.1", port, 1),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(args.workers)
        ]
        locust_args = [
            "--host",
            sim.url,
            "-u",
            str(args.streams),
            "-r",
            str(args.spawn_rate),
            "-t",
            f"{run_s}s",
            "--warmup",
            f"{warmup_s:.0f}",
            "--stop-timeout",
            f"{int(stream_s) + 5}",
            "--input-tokens",
            "16",
            "--output-tokens",
            str(args.output_tokens),
            "--first-token-timeout",
            "60",
            "--idle-timeout",
            "60",
            "--results-dir",
            str(results),
            "--run-id",
            "max",
            "OpenAIChatUser",
        ]
        master = subprocess.Popen(
            master_command(args.workers, "127.0.0.1", port, 60, locust_args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            running, cpu = _sample(sim, master, workers, warmup_s, run_s)
            _, err = master.communicate(timeout=run_s + 120)
            for w in workers:
                w.wait(timeout=60)
        finally:
            for proc in [master, *workers]:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    summary = json.loads((results / "max" / "summary.json").read_text())
    figures = _figures(args, summary, running, cpu, fd_limit, master.returncode, err)
    figures["lateness_ms"] = _lateness(
        args, results / "max" / "requests.csv", summary["stages"][0]["window_ns"]["end"]
    )
    figures["results_dir"] = str(results / "max")
    return figures


def _sample(
    sim: SimProcess,
    master: subprocess.Popen[str],
    workers: list[Any],
    warmup_s: float,
    run_s: float,
) -> tuple[list[int], dict[str, float]]:
    """After the ramp and warm-up: the engine's in-flight streams every second, and each
    process's CPU (user + system, % of one core) over that steady window."""
    procs = {f"worker{i}": psutil.Process(w.pid) for i, w in enumerate(workers)}
    procs["master"] = psutil.Process(master.pid)
    procs["engine"] = psutil.Process(sim.pid)
    started = time.monotonic()
    time.sleep(warmup_s + 2)  # benchmark pacing (not a test): the ramp and warm-up
    cpu0 = {name: sum(p.cpu_times()[:2]) for name, p in procs.items()}
    t0 = time.monotonic()
    running = []
    while time.monotonic() - started < run_s - 1 and master.poll() is None:
        running.append(int(sim.stats()["running"]))
        time.sleep(1)
    span = time.monotonic() - t0
    cpu = {
        name: round(100 * (sum(p.cpu_times()[:2]) - cpu0[name]) / span, 1)
        for name, p in procs.items()
    }
    return running, cpu


def _lateness(args: argparse.Namespace, csv_path: Path, stop_ns: int) -> dict[str, Any]:
    """First- and last-token lateness percentiles per request (see the module docstring)."""
    rows = pd.read_csv(csv_path)
    ok = rows[(rows["phase"] == "measure") & (rows["status"] == "ok")]
    first = ok["ttft_ms"] - args.ttft_ms
    last = ok["e2e_ms"] - (args.ttft_ms + (ok["output_tokens"] - 1) * args.itl_ms)
    steady = (ok["start_unix_ns"] + ok["e2e_ms"] * 1e6) < stop_ns

    def pct(values: Any) -> dict[str, float]:
        q = values.quantile([0.5, 0.99, 0.999])
        return {
            "p50": round(q[0.5], 2),
            "p99": round(q[0.99], 2),
            "p99.9": round(q[0.999], 2),
            "max": round(values.max(), 2),
        }

    return {
        "steady_requests": int(steady.sum()),
        "steady_first_token": pct(first[steady]),
        "steady_last_token": pct(last[steady]),
        "all_first_token": pct(first),
        "all_last_token": pct(last),
    }


def _figures(
    args: argparse.Namespace,
    summary: dict[str, Any],
    running: list[int],
    cpu: dict[str, float],
    fd_limit: int,
    code: int,
    err: str,
) -> dict[str, Any]:
    metrics = summary["metrics"]
    itl, ttft = metrics["itl_ms"], metrics["ttft_ms"]
    tps = summary["throughput"]["output_tps"]
    worker_cpu = [v for k, v in cpu.items() if k.startswith("worker")]
    return {
        "streams_target": args.streams,
        "workers": args.workers,
        "fd_limit": fd_limit,
        "locust_exit": code,
        "concurrency_median": statistics.median(running) if running else 0,
        "concurrency_max": max(running, default=0),
        "output_tps": round(tps, 1),
        "requests_ok": summary["requests"]["ok"],
        "requests_failed": summary["requests"]["failed"],
        "errors": summary["errors"],
        "itl_error_ms": {k: round(itl[k] - args.itl_ms, 2) for k in ("p50", "p99", "p99.9")},
        "ttft_error_ms": {k: round(ttft[k] - args.ttft_ms, 2) for k in ("p50", "p99")},
        "cpu_pct": cpu,
        "per_worker": {
            "streams": args.streams // args.workers,
            "token_events_per_s": round(tps / args.workers, 1),
            "cpu_pct_mean": round(statistics.mean(worker_cpu), 1) if worker_cpu else None,
        },
        "master_stderr_tail": err.strip().splitlines()[-3:] if code else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--spawn-rate", type=float, default=500.0, help="users per second")
    parser.add_argument("--steady-s", type=float, default=60.0)
    parser.add_argument("--ttft-ms", type=float, default=500.0)
    parser.add_argument("--itl-ms", type=float, default=3000.0)
    parser.add_argument("--output-tokens", type=int, default=8)
    args = parser.parse_args()
    stream_s = (args.ttft_ms + args.itl_ms * (args.output_tokens - 1)) / 1000
    if args.steady_s < 2 * stream_s:
        parser.error(
            f"--steady-s must be at least twice a stream's {stream_s:g} s: the users' "
            "first requests start in the ramp, measured ones after it"
        )
    figures = run(args)
    json.dump(figures, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
