"""Counters of the simulator, exposed as ``/sim/stats`` JSON and Prometheus ``/metrics`` text.

``/metrics`` uses vLLM's metric names and ``model_name`` label so the telemetry agent's vLLM
scraper reads the simulator like a real engine. Request accounting (each generation request
ends up in exactly one bucket once it is over):

- ``requests_finished``: the whole response (finish chunk, ``[DONE]``) was sent;
- ``requests_aborted``: the client went away first (timeout, kill);
- ``requests_faulted``: a fault ended it (HTTP 429/500/503 or a cut stream);
- ``requests_rejected``: invalid request (400/404), not counted in ``requests_total``.

``requests_total`` counts valid generation requests, so
``total = finished + aborted + faulted + running + waiting (+ those delayed by slow headers)``.
"""

from __future__ import annotations

import time
from typing import Any

from tokenswarm.sim.engine import BatchingEngine, FixedEngine
from tokenswarm.sim.faults import KIND_NAMES


class SimStats:
    """Request and fault counters (token counters live in the engine)."""

    def __init__(self) -> None:
        self.requests_total = 0
        self.requests_finished = 0
        self.requests_aborted = 0
        self.requests_faulted = 0
        self.requests_rejected = 0
        self.faults: dict[str, int] = dict.fromkeys(KIND_NAMES, 0)

    def snapshot(
        self, engine: BatchingEngine | FixedEngine, kv_cache_tokens: int, now: float
    ) -> dict[str, Any]:
        """The ``/sim/stats`` object; ``now`` is the engine clock (``busy_seconds`` grows with
        it while a request runs: the simulated GPU's utilisation source)."""
        return {
            "requests_total": self.requests_total,
            "requests_finished": self.requests_finished,
            "requests_aborted": self.requests_aborted,
            "requests_faulted": self.requests_faulted,
            "requests_rejected": self.requests_rejected,
            "prompt_tokens": engine.prompt_tokens_total,
            "generation_tokens": engine.generation_tokens_total,
            "faults": dict(self.faults),
            "running": engine.n_running,
            "waiting": engine.n_waiting,
            "kv_cache_usage": kv_usage(engine, kv_cache_tokens),
            "cpu_seconds": time.process_time(),
            "busy_seconds": engine.busy.seconds(now),
            "clock_seconds": now,
        }


def kv_usage(engine: BatchingEngine | FixedEngine, kv_cache_tokens: int) -> float:
    """``gpu_cache_usage_perc``: KV tokens in use / ``kv_cache_tokens`` (0 when unlimited)."""
    if not kv_cache_tokens:
        return 0.0
    return min(1.0, engine.kv_used() / kv_cache_tokens)


def prometheus_text(stats: SimStats, snapshot: dict[str, Any], model: str) -> bytes:
    """Prometheus exposition text (format 0.0.4) of a :meth:`SimStats.snapshot`."""
    label = '{model_name="' + model.replace("\\", "\\\\").replace('"', '\\"') + '"}'
    rows: list[tuple[str, str, str, str, float]] = [
        (
            "vllm:num_requests_running",
            "gauge",
            "Requests in the running batch.",
            label,
            snapshot["running"],
        ),
        (
            "vllm:num_requests_waiting",
            "gauge",
            "Requests waiting to be scheduled.",
            label,
            snapshot["waiting"],
        ),
        (
            "vllm:gpu_cache_usage_perc",
            "gauge",
            "KV cache usage, 1 means 100 percent.",
            label,
            snapshot["kv_cache_usage"],
        ),
        (
            "vllm:prompt_tokens_total",
            "counter",
            "Prefilled prompt tokens.",
            label,
            snapshot["prompt_tokens"],
        ),
        (
            "vllm:generation_tokens_total",
            "counter",
            "Generated tokens.",
            label,
            snapshot["generation_tokens"],
        ),
        (
            "tokenswarm_sim_requests_total",
            "counter",
            "Valid generation requests received.",
            label,
            snapshot["requests_total"],
        ),
        (
            "tokenswarm_sim_cpu_seconds_total",
            "counter",
            "CPU seconds used by the simulator.",
            "",
            snapshot["cpu_seconds"],
        ),
    ]
    lines: list[str] = []
    for name, kind, help_text, labels, value in rows:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name}{labels} {value}"]
    name = "tokenswarm_sim_faults_total"
    lines += [f"# HELP {name} Injected faults by kind.", f"# TYPE {name} counter"]
    lines += [f'{name}{{kind="{kind}"}} {count}' for kind, count in stats.faults.items()]
    return ("\n".join(lines) + "\n").encode()
