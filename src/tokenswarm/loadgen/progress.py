"""One progress line every few seconds on the results process of a headless run.

Locust's periodic tables show E2E only; this line shows what an LLM benchmark watches:
elapsed/total time, users, requests ok/failed, output tokens/s over the last interval (from the
merged token time series, so it lags worker reports by up to 3 s), and TTFT/ITL p50/p99 so far.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent

from tokenswarm.loadgen.runtime import RUNTIME

log = logging.getLogger("tokenswarm")
INTERVAL_S = 5.0


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def progress_line(elapsed_s: float, run_time_s: float | None, users: int, rate_tps: float) -> str:
    agg = RUNTIME.aggregate
    ttft, itl = agg.hists["ttft_ms"], agg.hists["itl_ms"]
    total = f"/{run_time_s:.0f}" if run_time_s else ""
    return (
        f"progress {elapsed_s:.0f}{total} s: {users} users, ok {agg.counts.get('ok', 0)}, "
        f"failed {agg.counts.get('failed', 0)}, output {rate_tps:,.0f} tok/s, "
        f"TTFT p50/p99 {_ms(ttft.percentile(50))}/{_ms(ttft.percentile(99))} ms, "
        f"ITL p50/p99 {_ms(itl.percentile(50))}/{_ms(itl.percentile(99))} ms"
    )


def progress_loop(environment: Any) -> None:
    """Log a progress line every INTERVAL_S until the run is finished."""
    run = RUNTIME.run
    started = time.monotonic()
    run_time_s = getattr(environment.parsed_options, "run_time", None)
    last_tokens = 0.0
    while run is not None and not run.finished:
        gevent.sleep(INTERVAL_S)
        if run.finished:
            return
        tokens = float(sum(RUNTIME.aggregate.output_token_buckets.values()))
        rate = (tokens - last_tokens) / INTERVAL_S
        last_tokens = tokens
        users = environment.runner.user_count if environment.runner else 0
        log.info(progress_line(time.monotonic() - started, run_time_s, users, rate))
