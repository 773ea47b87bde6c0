"""The GPU host itself: CPU busy %, memory and load (measurement ``host``, role ``gpu``).

A saturated host CPU starves the engine's scheduler and tokenizer long before the GPU is full,
so it is polled beside the GPUs. ``psutil.cpu_percent`` with no interval measures since the
previous call, i.e. exactly the agent's poll period; it is primed at construction so the first
poll is not a meaningless 0.
"""

from __future__ import annotations

import os
import time

import psutil

from tokenswarm.telemetry.sample import HostSample
from tokenswarm.telemetry.source import PollResult


class HostSource:
    name = "host"

    def __init__(self) -> None:
        psutil.cpu_percent(interval=None)

    def describe(self) -> str:
        return f"host ({psutil.cpu_count()} CPUs)"

    def poll(self) -> PollResult:
        start = time.monotonic()
        mem = psutil.virtual_memory()
        fields: dict[str, float | int] = {
            "cpu_pct": float(psutil.cpu_percent(interval=None)),
            "mem_used_bytes": int(mem.total - mem.available),
            "mem_total_bytes": int(mem.total),
            "load1": float(os.getloadavg()[0]),
        }
        return PollResult(samples=[HostSample(fields)], duration_s=time.monotonic() - start)
