"""Client capacity: CPU per received token and timing error of tokenswarm vs reference clients.

Run from the repository root (about 4 minutes on 2 cores)::

    .venv/bin/python benchmarks/client_capacity.py [--out benchmarks/results/client_capacity.json]

The simulated engine (fixed schedule: TTFT 50 ms, ITL 20 ms, 128-token outputs, so 50 tokens/s
per stream) runs pinned to CPU 0; each client in turn runs pinned to CPU 1 with N closed-loop
streams started over ``--ramp`` seconds:

- ``tokenswarm``: real ``locust --headless`` (one local process) with tokenswarm's locustfile
  (``clients/tokenswarm_probe.py`` adds a stamp recorder), kernel receive timestamps on;
- ``tokenswarm-nokts``: the same with ``TOKENSWARM_KERNEL_TIMESTAMPS=0`` (bursts only);
- ``raw``: a lean raw-socket asyncio client, uvloop where installed (``clients/raw_asyncio.py``);
- ``aiohttp``: aiohttp in the style of vLLM's benchmark_serving (``clients/aiohttp_vllm.py``).

Two modes: ``independent`` streams (each on its own schedule) and ``burst`` (``--burst``: every
token on a global 20 ms grid, all streams' tokens at one instant, as a batching engine's decode
step). Each run waits until all streams are running, then measures over ``--window`` seconds:
``us per token = client CPU seconds (user + system, /proc via psutil) / tokens the simulator
generated``, the same for the simulator, and the timing errors of ``clients/analysis.py``.
Runs are repeated ``--repeats`` times, interleaved (client order rotates), and the table shows
medians. guidellm and aiperf are driven only where installed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).parent / "clients"))
from analysis import errors, medians, summarise, window_histogram

from tokenswarm.sim.process import SimProcess

HERE = Path(__file__).parent
SIM_CPU, CLIENT_CPU = 0, 1
TTFT_MS, ITL_MS = 50.0, 20.0


def client_cmd(
    client: str, url: str, streams: int, args: argparse.Namespace, out: str
) -> list[str]:
    if client.startswith("tokenswarm"):
        return [
            sys.executable, "-m", "locust", "-f", str(HERE / "clients" / "tokenswarm_probe.py"),
            "--headless", "--host", url, "-u", str(streams),
            "-r", f"{streams / args.ramp:g}", "--stop-timeout", "0", "--loglevel", "WARNING",
            "--only-summary", "--warmup", f"{args.ramp + args.settle:g}",
            "--results-dir", str(Path(out).parent / "results"), "--run-id", Path(out).stem,
            "--input-tokens", str(args.input_tokens), "--output-tokens", str(args.output_tokens),
        ]  # fmt: skip
    script = {"raw": "raw_asyncio.py", "aiohttp": "aiohttp_vllm.py"}[client]
    return [
        sys.executable, str(HERE / "clients" / script), "--url", url, "--streams", str(streams),
        "--ramp", str(args.ramp), "--out", out, "--input-tokens", str(args.input_tokens),
        "--output-tokens", str(args.output_tokens),
    ]  # fmt: skip


def wait_running(sim: SimProcess, streams: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while sim.stats()["running"] < streams:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sim.stats()['running']} of {streams} streams started")
        time.sleep(0.1)


def run_one(
    sim: SimProcess, mode: str, client: str, streams: int, args: argparse.Namespace, tmp: str
) -> dict[str, Any]:
    """One client at one level: CPU per token and timing errors over the window."""
    out = os.path.join(tmp, f"{mode}-{client}-{streams}-{time.monotonic_ns()}.rec")
    env = dict(os.environ, TOKENSWARM_BENCH_RECORDS=out, TOKENSWARM_PRINT_TABLE="0")
    env["PYTHONPATH"] = os.pathsep.join([str(HERE / "clients"), env.get("PYTHONPATH", "")])
    if client == "tokenswarm-nokts":
        env["TOKENSWARM_KERNEL_TIMESTAMPS"] = "0"
    proc = subprocess.Popen(
        client_cmd(client, sim.url, streams, args, out),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: os.sched_setaffinity(0, {CLIENT_CPU}),
    )
    try:
        wait_running(sim, streams, args.ramp + 30)
        time.sleep(args.settle)
        cproc, sproc = psutil.Process(proc.pid), psutil.Process(sim.pid)
        c0, s0, (g0, e0) = sum(cproc.cpu_times()[:2]), sum(sproc.cpu_times()[:2]), _sim(sim)
        m0 = _machine_busy()
        t0 = time.perf_counter_ns()
        time.sleep(args.window)
        t1 = time.perf_counter_ns()
        c1, s1, (g1, e1) = sum(cproc.cpu_times()[:2]), sum(sproc.cpu_times()[:2]), _sim(sim)
        m1 = _machine_busy()
    finally:
        proc.send_signal(signal.SIGUSR1 if client.startswith("tokenswarm") else signal.SIGTERM)
        try:
            _, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
    if not os.path.exists(out):
        raise SystemExit(f"{client} wrote no records:\n{stderr.decode()[-2000:]}")
    wall, tokens = (t1 - t0) / 1e9, g1 - g0
    row: dict[str, Any] = {
        "mode": mode,
        "client": client,
        "streams": streams,
        "tokens_per_s": tokens / wall,
        "client_cpu_pct": 100 * (c1 - c0) / wall,
        "client_us_per_token": 1e6 * (c1 - c0) / tokens,
        "sim_cpu_pct": 100 * (s1 - s0) / wall,
        "sim_us_per_token": 1e6 * (s1 - s0) / tokens,
        # the simulator's own schedule error: |token timer dispatch - deadline|
        "sim_timer_err_p99_ms": window_histogram(e0, e1).percentile(99.0),
        # everything else the machine ran meanwhile (other processes), % of one core
        "foreign_cpu_pct": 100 * ((m1 - m0) - (c1 - c0) - (s1 - s0)) / wall,
    }
    burst = mode == "burst"
    row |= errors(out, t0, t1, int(TTFT_MS * 1e6), int(ITL_MS * 1e6), burst)
    os.unlink(out)
    summary = Path(out).parent / "results" / Path(out).stem / "summary.json"
    if summary.is_file():  # tokenswarm's own verdict on itself (loadgen/health.py)
        health = json.loads(summary.read_text()).get("health") or {}
        row["own_loop_lag_p99_ms"] = health.get("loop_lag_p99_ms")
        row["own_saturated"] = health.get("saturated")
    return row


def _machine_busy() -> float:
    """CPU seconds all cores spent on anything but idle, since boot."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _sim(sim: SimProcess) -> tuple[int, dict[str, Any]]:
    """Tokens generated so far and the cumulative timer-error histogram (wire form)."""
    stats = sim.stats()
    return int(stats["generation_tokens"]), stats["timer_error"]


def peers() -> dict[str, str]:
    """guidellm / aiperf: driven only where installed (an optional extra)."""
    found = {}
    for name in ("guidellm", "aiperf"):
        installed = shutil.which(name) or importlib.util.find_spec(name)
        found[name] = "installed, not driven by this version" if installed else "not installed"
    return found


def print_table(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    def f(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    print(
        f"{'mode':<12}{'streams':>8}{'client':>18}{'tok/s':>9}{'cpu%':>7}{'us/tok':>8}"
        f"{'sim us/tok':>11}{'ITL err p50/p99 ms':>20}{'TTFT err p50/p99 ms':>21}"
        f"{'burst late p99':>15}{'sim late p99':>13}{'other cpu%':>11}"
    )
    for r in sorted(rows, key=lambda r: (r["mode"], r["streams"], r["client"])):
        print(
            f"{r['mode']:<12}{r['streams']:>8}{r['client']:>18}{f(r['tokens_per_s'], ',.0f'):>9}"
            f"{f(r['client_cpu_pct'], '.0f'):>7}{f(r['client_us_per_token'], '.1f'):>8}"
            f"{f(r['sim_us_per_token'], '.1f'):>11}"
            f"{f(r['itl_err_p50_ms'], '.3f') + ' / ' + f(r['itl_err_p99_ms'], '.3f'):>20}"
            f"{f(r['ttft_err_p50_ms'], '.3f') + ' / ' + f(r['ttft_err_p99_ms'], '.3f'):>21}"
            f"{f(r.get('late_p99_ms'), '.3f'):>15}{f(r['sim_timer_err_p99_ms'], '.3f'):>13}"
            f"{f(r['foreign_cpu_pct'], '.0f'):>11}"
        )
    own = [r for r in rows if r.get("own_loop_lag_p99_ms") is not None]
    if own:
        print("\ntokenswarm's own health verdict (summary.json 'health'):")
        for r in sorted(own, key=lambda r: (r["mode"], r["streams"], r["client"])):
            print(
                f"  {r['mode']:<12} {r['streams']:>4} {r['client']:<17} loop lag p99 "
                f"{r['own_loop_lag_p99_ms']:.2f} ms"
            )
    print("\nCPU per token, tokenswarm / reference:")
    for mode, levels in summary["cpu_ratio"].items():
        for streams, ratio in levels.items():
            print(
                f"  {mode:<12} {streams:>4} streams: vs raw {f(ratio['vs_raw'], '.2f')}x, "
                f"vs aiohttp {f(ratio['vs_aiohttp'], '.2f')}x"
            )
    for key in (
        "max_tokens_per_s_p99_itl_err_under_1ms",
        "max_tokens_per_s_p99_ttft_err_under_1ms",
    ):
        print(f"\n{key}:")
        for mode, clients in summary[key].items():
            cells = ", ".join(f"{c} {f(v, ',.0f')}" for c, v in sorted(clients.items()))
            print(f"  {mode:<12} {cells}")
    print("\nsimulator capacity (tokens/s per core):", summary["sim_tokens_per_s_per_core"])
    for name, state in summary["peers"].items():
        print(f"{name}: {state}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="128,256,512", help="load levels (streams)")
    parser.add_argument("--modes", default="independent,burst")
    parser.add_argument("--clients", default="raw,aiohttp,tokenswarm")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--window", type=float, default=3.0, help="measured seconds per run")
    parser.add_argument("--ramp", type=float, default=1.5, help="stream start spread, s")
    parser.add_argument("--settle", type=float, default=0.5, help="after the ramp, s")
    parser.add_argument("--input-tokens", type=int, default=32)
    parser.add_argument("--output-tokens", type=int, default=128)
    parser.add_argument(
        "--out", default=str(HERE / "results" / "client_capacity.json"), help="JSON written here"
    )
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs 2 CPUs (one for the simulator, one for the client)")
    levels = [int(s) for s in args.streams.split(",")]
    modes, clients = args.modes.split(","), args.clients.split(",")
    if "aiohttp" in clients and importlib.util.find_spec("aiohttp") is None:
        print("aiohttp: not installed (pip install aiohttp), its client is left out", flush=True)
        clients.remove("aiohttp")
    runs: list[dict[str, Any]] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for mode in modes:
                sim_args = ["--ttft-ms", str(TTFT_MS), "--itl-ms", str(ITL_MS)]
                sim_args += ["--burst"] if mode == "burst" else []
                with SimProcess("--preset", "fixed", *sim_args) as sim:
                    os.sched_setaffinity(sim.pid, {SIM_CPU})
                    order = clients + (["tokenswarm-nokts"] if mode == "burst" else [])
                    order = order[repeat % len(order) :] + order[: repeat % len(order)]
                    for streams in levels:
                        for client in order:
                            row = run_one(sim, mode, client, streams, args, tmp)
                            row["repeat"] = repeat
                            runs.append(row)
                            print(
                                f"  [{time.monotonic() - started:5.0f} s] {mode} {streams} "
                                f"{client}: {row['client_us_per_token']:.1f} us/token, "
                                f"ITL err p99 {row['itl_err_p99_ms'] or 0:.3f} ms",
                                file=sys.stderr,
                                flush=True,
                            )
    rows = medians(runs)
    summary = summarise(rows) | {"peers": peers()}
    print_table(rows, summary)
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpu": _cpu_model(),
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "loadavg_at_end": os.getloadavg(),
        },
        "settings": vars(args)
        | {
            "ttft_ms": TTFT_MS,
            "itl_ms": ITL_MS,
            "raw_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        },
        "seconds": time.monotonic() - started,
        "rows": rows,
        "summary": summary,
        "runs": runs,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"\nwritten {args.out} ({result['seconds']:.0f} s)")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


if __name__ == "__main__":
    main()
