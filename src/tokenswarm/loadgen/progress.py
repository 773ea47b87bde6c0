"""One progress line every few seconds on the results process of a headless run.

Locust's periodic tables show E2E only; this line shows what an LLM benchmark watches: the
stage (in a sweep), elapsed time and time left, users, the stage's requests ok/failed, output
tokens/s over the last interval (from the merged token time series, so it lags worker reports
by up to 3 s), the stage's TTFT/ITL p50/p99 so far, and the load generator's own CPU and
event-loop lag (a saturated client makes every timing late).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import gevent

from tokenswarm.loadgen.runtime import RUNTIME

log = logging.getLogger("tokenswarm")
INTERVAL_S = 5.0


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def progress_line(elapsed_s: float, left_s: float | None, users: int, rate_tps: float) -> str:
    """``stage k/n name | time | users | requests | tok/s | TTFT | ITL`` of the current stage."""
    stage = RUNTIME.stage
    stats = RUNTIME.aggregate.stage_stats(stage.index if stage else 0)
    ttft, itl = stats.hists["ttft_ms"], stats.hists["itl_ms"]
    left = f", {left_s:.0f} s left" if left_s is not None else ""
    where = ""
    if stage is not None and RUNTIME.stage_count > 1:
        where = f"stage {stage.index + 1}/{RUNTIME.stage_count} {stage.name}: "
    return (
        f"progress {where}{elapsed_s:.0f} s{left}: {users} users, "
        f"ok {stats.counts.get('ok', 0)}, failed {stats.counts.get('failed', 0)}, "
        f"output {rate_tps:,.0f} tok/s, "
        f"TTFT p50/p99 {_ms(ttft.percentile(50))}/{_ms(ttft.percentile(99))} ms, "
        f"ITL p50/p99 {_ms(itl.percentile(50))}/{_ms(itl.percentile(99))} ms"
        f"{health_text()}"
    )


def health_text() -> str:
    """``, load generator CPU max N %, loop lag p99 M ms`` over the last two intervals, from
    every load process's health samples (see tokenswarm.loadgen.health_listeners)."""
    from tokenswarm.loadgen import health_listeners

    now = time.time_ns()
    health = health_listeners.LOG.summarise((now - int(2 * INTERVAL_S * 1e9), now))
    cpu, lag = health["cpu_pct_max"], health["loop_lag_p99_ms"]
    if cpu is None and lag is None:
        return ""
    cpu_text = "-" if cpu is None else f"{cpu:.0f}"
    warning = " (SATURATED: add --workers)" if health["saturated"] else ""
    return f", load generator CPU {cpu_text} %, loop lag p99 {_ms(lag)} ms{warning}"


def progress_loop(environment: Any, left_s: Callable[[float], float | None]) -> None:
    """Log a progress line every INTERVAL_S until the run is finished; ``left_s(elapsed)``
    estimates the time left."""
    run = RUNTIME.run
    started = time.monotonic()
    last_tokens = 0.0
    while run is not None and not run.finished:
        gevent.sleep(INTERVAL_S)
        if run.finished:
            return
        tokens = float(sum(RUNTIME.aggregate.output_token_buckets.values()))
        rate = (tokens - last_tokens) / INTERVAL_S
        last_tokens = tokens
        users = environment.runner.user_count if environment.runner else 0
        elapsed = time.monotonic() - started
        log.info(progress_line(elapsed, left_s(elapsed), users, rate))
