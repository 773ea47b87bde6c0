"""Tuning advice: rules that read the stage rows (and engine telemetry) and say what to try,
each citing the numbers that triggered it. Thresholds are module constants, named in the
rule's docstring; a rule that lacks its data (one level, no telemetry) stays silent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tokenswarm.report.analysis import groups, number
from tokenswarm.report.load import Run
from tokenswarm.report.telemetry import stage_engine_stats

QUEUE_TTFT_GROWTH = 3.0  # TTFT p99 grows at least 3x from the lowest to the highest level ...
QUEUE_VS_ITL = 2.0  # ... and at least 2x faster than ITL p99
LINEAR_R = 0.95  # ITL p50 vs users: Pearson r at least this ...
ITL_GROWTH = 1.5  # ... ITL p50 grows at least 1.5x ...
FLAT_GAIN = 1.2  # ... and the last step (>= 1.5x users) adds < 20 % output tok/s
KV_FULL_PCT = 90.0  # engine KV-cache usage at or above this in a stage


@dataclass(frozen=True)
class Advice:
    rule: str
    run: str
    scenario: str
    finding: str
    suggestion: str


def _measured(df: pd.DataFrame, *columns: str) -> pd.DataFrame:
    return df.dropna(subset=list(columns))


def queueing(stages: pd.DataFrame, _runs: list[Run], gpu_target: float) -> Iterator[Advice]:
    """TTFT p99 grows >= QUEUE_TTFT_GROWTH x over the levels and >= QUEUE_VS_ITL x faster than
    ITL p99: requests wait for admission / prefill, not for decode."""
    for (run, scenario), df in groups(stages):
        m = _measured(df, "ttft_ms_p99", "itl_ms_p99")
        if len(m) < 2 or not (m["ttft_ms_p99"].iloc[0] > 0 and m["itl_ms_p99"].iloc[0] > 0):
            continue
        lo, hi = m.iloc[0], m.iloc[-1]
        ttft, itl = hi["ttft_ms_p99"] / lo["ttft_ms_p99"], hi["itl_ms_p99"] / lo["itl_ms_p99"]
        if ttft >= QUEUE_TTFT_GROWTH and ttft >= QUEUE_VS_ITL * itl:
            yield Advice(
                "queueing",
                run,
                scenario,
                f"TTFT p99 grew {ttft:.1f}x ({lo['ttft_ms_p99']:.1f} ms at {lo['users']} users "
                f"-> {hi['ttft_ms_p99']:.1f} ms at {hi['users']}) while ITL p99 grew {itl:.1f}x "
                f"({lo['itl_ms_p99']:.1f} -> {hi['itl_ms_p99']:.1f} ms)",
                "requests wait before their first token: for a batch slot (raise --max-num-seqs "
                "if the KV cache has room) or behind prefills (raise --max-num-batched-tokens, "
                "enable chunked prefill: vLLM --enable-chunked-prefill, SGLang "
                "--chunked-prefill-size, so prefill interleaves with decode); or keep "
                "concurrency at the saturation point",
            )


def bandwidth(stages: pd.DataFrame, _runs: list[Run], gpu_target: float) -> Iterator[Advice]:
    """ITL p50 rises linearly with users (r >= LINEAR_R, >= ITL_GROWTH x) while the last step
    (>= 1.5x users) adds < FLAT_GAIN output tok/s: each decode step reads all weights and KV,
    so time per step grows with the batch: memory-bandwidth bound."""
    for (run, scenario), df in groups(stages):
        m = _measured(df, "itl_ms_p50", "output_tps")
        if (
            len(m) < 3
            or m["itl_ms_p50"].iloc[0] <= 0
            or m["users"].nunique() < 3
            or m["itl_ms_p50"].nunique() < 2
        ):
            continue
        r = float(np.corrcoef(m["users"].astype(float), m["itl_ms_p50"].astype(float))[0, 1])
        lo, prev, hi = m.iloc[0], m.iloc[-2], m.iloc[-1]
        growth = hi["itl_ms_p50"] / lo["itl_ms_p50"]
        gain = hi["output_tps"] / prev["output_tps"] if prev["output_tps"] else np.inf
        if (
            r >= LINEAR_R
            and growth >= ITL_GROWTH
            and hi["users"] >= 1.5 * prev["users"]
            and gain < FLAT_GAIN
        ):
            yield Advice(
                "bandwidth",
                run,
                scenario,
                f"ITL p50 rose linearly with concurrency (r = {r:.2f}; {lo['itl_ms_p50']:.1f} ms "
                f"at {lo['users']} users -> {hi['itl_ms_p50']:.1f} ms at {hi['users']}) while "
                f"output tok/s went {prev['output_tps']:.0f} -> {hi['output_tps']:.0f} "
                f"({prev['users']} -> {hi['users']} users, +{(gain - 1) * 100:.0f} %)",
                "decode is memory-bandwidth bound: quantise weights / KV cache (e.g. AWQ, GPTQ, "
                "fp8, --kv-cache-dtype fp8) or add bandwidth with tensor parallelism "
                "(--tensor-parallel-size); more concurrency only adds latency",
            )


def rate_limited(stages: pd.DataFrame, _runs: list[Run], gpu_target: float) -> Iterator[Advice]:
    """Any ``http_429`` failure: the server (or a proxy) refuses at admission."""
    for (run, scenario), df in groups(stages):
        n429 = [(row["users"], int(row["errors"].get("http_429", 0))) for _, row in df.iterrows()]
        hit = [(u, n) for u, n in n429 if n]
        if hit:
            total = int(df["ok"].sum() + df["failed"].sum())
            yield Advice(
                "http_429",
                run,
                scenario,
                f"{sum(n for _, n in hit)} of {total} requests failed with HTTP 429, from "
                f"{hit[0][0]} users on ({', '.join(f'{u} users: {n}' for u, n in hit)})",
                "the server's admission limit rejects requests: raise it (vLLM --max-num-seqs, "
                "SGLang --max-running-requests, the gateway's rate limit) or keep concurrency "
                f"below {hit[0][0]}",
            )


def gpu_idle(stages: pd.DataFrame, _runs: list[Run], gpu_target: float) -> Iterator[Advice]:
    """GPU utilisation below the ``gpu_util_pct`` target at the peak-throughput stage."""
    for (run, scenario), df in groups(stages):
        peak = df.loc[df["output_tps"].idxmax()]
        util = number(peak["gpu_util_pct"])
        if util is not None and util < gpu_target:
            yield Advice(
                "gpu_idle",
                run,
                scenario,
                f"GPU utilisation {util:.1f} % (< {gpu_target:g} %) at the peak "
                f"{peak['output_tps']:.0f} output tok/s ({peak['users']} users)",
                "the GPU waits for work: the client or the engine scheduler is the bound: "
                "raise concurrency, raise --max-num-seqs / --max-num-batched-tokens, and check "
                "that the load generator is not saturated (more --workers)",
            )


def _health(row: pd.Series) -> str:
    """'medium@8 (CPU max 97 %, event-loop lag p99 12.30 ms)' with what the stage recorded."""
    cpu, lag = number(row.get("client_cpu_max")), number(row.get("client_lag_p99_ms"))
    facts = ([f"CPU max {cpu:.0f} %"] if cpu is not None else []) + (
        [f"event-loop lag p99 {lag:.2f} ms"] if lag is not None else []
    )
    return f"{row['name']} ({', '.join(facts)})" if facts else str(row["name"])


def client_saturated(stages: pd.DataFrame, _runs: list[Run], gpu_target: float) -> Iterator[Advice]:
    """The sweep marked stages whose load generator was saturated (``health.saturated``: CPU or
    event-loop lag over its limits), so their latencies include client delay."""
    for (run, scenario), df in groups(stages):
        hot = df[df["client_saturated"].fillna(False).astype(bool)]
        if not hot.empty:
            yield Advice(
                "client_cpu",
                run,
                scenario,
                f"the load generator was saturated in {len(hot)} stage(s): "
                + ", ".join(_health(row) for _, row in hot.iterrows()),
                "latencies there include client delay: add load processes (--workers N) or "
                "load hosts and rerun those levels",
            )


def kv_cache(stages: pd.DataFrame, runs: list[Run], gpu_target: float) -> Iterator[Advice]:
    """Engine KV-cache usage >= KV_FULL_PCT in a stage (engine telemetry): admission stalls,
    preemption and recomputation follow."""
    for run in runs:
        if run.telemetry is None or run.telemetry.engine.empty:
            continue
        seen: set[str] = set()  # the first (lowest-concurrency) full stage of each scenario
        for _, row in run.stages.sort_values("users", kind="stable").iterrows():
            stats = stage_engine_stats(run.telemetry.engine, row["start_ns"], row["end_ns"]) or {}
            kv = stats.get("kv_cache_usage_pct_max")
            if kv is not None and kv >= KV_FULL_PCT and str(row["scenario"]) not in seen:
                seen.add(str(row["scenario"]))
                waiting = stats.get("requests_waiting_max", 0.0)
                yield Advice(
                    "kv_cache",
                    run.run_id,
                    str(row["scenario"]),
                    f"KV cache {kv:.0f} % full at {row['users']} users ({row['name']}), up to "
                    f"{waiting:.0f} requests waiting",
                    "give the KV cache more room: raise --gpu-memory-utilization (memory "
                    "fraction), lower --max-model-len, fp8 KV cache (--kv-cache-dtype fp8), or "
                    "tensor parallelism; fewer --max-num-seqs avoids preemption",
                )


RULES: tuple[Callable[[pd.DataFrame, list[Run], float], Iterator[Advice]], ...] = (
    queueing,
    bandwidth,
    rate_limited,
    gpu_idle,
    client_saturated,
    kv_cache,
)


def advise(stages: pd.DataFrame, runs: list[Run], gpu_target: float | None) -> list[Advice]:
    target = 85.0 if gpu_target is None else gpu_target
    return [advice for rule in RULES for advice in rule(stages, runs, target)]
