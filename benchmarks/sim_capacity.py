"""Capacity of the simulated engine: output tokens/s per core of simulator CPU.

Run from the repository root::

    .venv/bin/python benchmarks/sim_capacity.py [--duration 8] [--streams 256]

The simulator runs pinned to CPU 0 (``os.sched_setaffinity``), the lean raw-socket asyncio client
(:func:`tokenswarm.sim.rawclient.closed_loop`, a separate process) pinned to CPU 1, so neither
steals the other's core. Three measurements:

1. ``saturation``: continuous batching with zero step time (``--base-ms 0 --per-seq-ms 0``,
   prefill 1e9 tok/s), N closed-loop streams: the engine emits as fast as its CPU allows.
   ``tokens/s per core = output tokens / sim CPU seconds`` over the window (CPU from
   ``/proc/PID/stat`` via psutil: user + system of the simulator process).
2. ``fixed``: fixed schedule, 1 ms ITL, N streams (timer-driven path, N * 1000 tok/s offered).
3. ``k100-ai-7b``: the preset at 32 closed-loop streams, input 256 / output 256 tokens
   (``ignore_eos``), started evenly over one request's duration (4.4 s) and measured after 6 s
   for at least 12 s: the delivered output tokens/s, to compare with the 1,880 it is shaped
   after.

Prints one line per measurement. The client must stay below 100% of its core for the figure to
be the simulator's (its CPU share is printed too).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import time

import psutil

from tokenswarm.sim.process import SimProcess
from tokenswarm.sim.rawclient import closed_loop
from tokenswarm.tokenizer import WORD_VOCAB

SIM_CPU, CLIENT_CPU = 0, 1


def _client(
    url: str,
    body: dict[str, object],
    streams: int,
    warmup: float,
    duration: float,
    ramp: float,
    out: mp.Queue,
) -> None:
    os.sched_setaffinity(0, {CLIENT_CPU})
    host, port = url.removeprefix("http://").rsplit(":", 1)
    me = psutil.Process()
    cpu0 = sum(me.cpu_times()[:2])
    tps, requests = asyncio.run(
        closed_loop(host, int(port), "/v1/chat/completions", body, streams, warmup, duration, ramp)
    )
    out.put((tps, requests, sum(me.cpu_times()[:2]) - cpu0))


def measure(
    sim_args: list[str],
    body: dict[str, object],
    streams: int,
    warmup: float,
    duration: float,
    ramp: float = 0.0,
) -> dict[str, float]:
    """Run one sim + client pair; tokens/s, sim CPU share, tokens per sim CPU second."""
    with SimProcess(*sim_args) as sim:
        os.sched_setaffinity(sim.pid, {SIM_CPU})
        proc = psutil.Process(sim.pid)
        queue: mp.Queue = mp.Queue()
        client = mp.get_context("fork").Process(
            target=_client, args=(sim.url, body, streams, warmup, duration, ramp, queue)
        )
        client.start()
        time.sleep(warmup)
        cpu0, t0 = sum(proc.cpu_times()[:2]), time.perf_counter()
        tps, requests, client_cpu = queue.get(timeout=warmup + duration + 60)
        cpu = sum(proc.cpu_times()[:2]) - cpu0
        wall = time.perf_counter() - t0
        client.join()
    return {
        "tokens_per_s": tps,
        "requests": requests,
        "sim_cpu_share": cpu / wall,
        "client_cpu_share": client_cpu / (warmup + duration),
        "tokens_per_cpu_s": tps * duration / cpu if cpu else float("nan"),
    }


def _body(max_tokens: int, prompt_tokens: int = 8) -> dict[str, object]:
    prompt = " ".join(WORD_VOCAB[i % len(WORD_VOCAB)] for i in range(prompt_tokens))
    return {
        "model": "tokenswarm-sim",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="measurement window, s")
    parser.add_argument("--warmup", type=float, default=2.0, help="excluded start, s")
    parser.add_argument("--streams", type=int, default=256, help="streams for saturation")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs 2 CPUs (one for the simulator, one for the client)")
    runs = [
        (
            "saturation",
            [
                "--base-ms",
                "0",
                "--per-seq-ms",
                "0",
                "--prefill-tps",
                "1e9",
                "--max-num-seqs",
                str(args.streams),
            ],
            _body(1024),
            args.streams,
        ),
        (
            "fixed",
            ["--preset", "fixed", "--ttft-ms", "1", "--itl-ms", "1"],
            _body(1024),
            args.streams,
        ),
        (
            "k100-ai-7b",
            ["--preset", "k100-ai-7b", "--model", "tokenswarm-sim"],
            _body(256, 256),
            32,
        ),
    ]
    for name, sim_args, body, streams in runs:
        if name == "k100-ai-7b":  # one request lasts ~4.4 s: ramp over it, then measure long
            r = measure(sim_args, body, streams, 6.0, max(args.duration, 12.0), ramp=4.4)
        else:
            r = measure(sim_args, body, streams, args.warmup, args.duration)
        print(
            f"{name:<11} streams={streams:<4} output {r['tokens_per_s']:>9,.0f} tok/s  "
            f"sim CPU {r['sim_cpu_share']:6.1%}  client CPU {r['client_cpu_share']:6.1%}  "
            f"=> {r['tokens_per_cpu_s']:>9,.0f} tok/s per sim core  "
            f"({r['requests']} requests)",
            flush=True,
        )


if __name__ == "__main__":
    main()
