"""Timing errors of one run and the medians, ratios and capacities of the benchmark.

Errors, from a client's record file (``common.py``), counting only samples inside the window:

- ITL error of a gap = ``|(t_i - t_(i-1)) - itl|`` (the simulator's schedule has exactly ``itl``
  between tokens, in both modes), for gaps whose later stamp is in the window;
- TTFT error: independent streams ``|(t_0 - t_send) - ttft|``; bursts: the first token's
  lateness ``t_0 mod itl`` (its burst fired on the grid point before it arrived);
- burst lateness (bursts only) = ``t_i mod itl`` for every token: how long after its burst
  instant each token was stamped (the simulator's own write spread included).
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np
from common import read_records

from tokenswarm.histograms import Histogram


def errors(
    path: str, t0: int, t1: int, ttft_ns: int, itl_ns: int, burst: bool
) -> dict[str, float | int]:
    """p50/p99 of the errors above in ms, and the sample counts."""
    itl_err: list[np.ndarray] = []
    ttft_err: list[float] = []
    late: list[np.ndarray] = []
    for t_send, stamps in read_records(path):
        if not stamps:
            continue
        s = np.frombuffer(stamps, dtype=np.int64)
        if t0 <= s[0] <= t1:
            first = s[0] % itl_ns if burst else abs(s[0] - t_send - ttft_ns)
            ttft_err.append(float(first))
        keep = s[1:][(s[1:] >= t0) & (s[1:] <= t1)]
        if keep.size:
            gaps = np.diff(s)[(s[1:] >= t0) & (s[1:] <= t1)]
            itl_err.append(np.abs(gaps - itl_ns))
        if burst:
            late.append(s[(s >= t0) & (s <= t1)] % itl_ns)
    out: dict[str, float | int] = {}
    for name, parts in (("itl_err", itl_err), ("ttft_err", [np.array(ttft_err)]), ("late", late)):
        values = np.concatenate(parts) if parts else np.array([])
        if name == "late" and not burst:
            continue
        out[f"{name}_n"] = int(values.size)
        for q in (50, 99):
            out[f"{name}_p{q}_ms"] = float(np.percentile(values, q)) / 1e6 if values.size else None
    return out


NUMERIC = (
    "tokens_per_s",
    "client_cpu_pct",
    "client_us_per_token",
    "sim_cpu_pct",
    "sim_us_per_token",
    "itl_err_p50_ms",
    "itl_err_p99_ms",
    "ttft_err_p50_ms",
    "ttft_err_p99_ms",
    "late_p50_ms",
    "late_p99_ms",
    "sim_timer_err_p99_ms",
    "foreign_cpu_pct",
    "own_loop_lag_p99_ms",
)


def window_histogram(before: dict[str, Any], after: dict[str, Any]) -> Histogram:
    """The samples recorded between two snapshots of one cumulative histogram (bucket counts
    subtract exactly; min/max are the cumulative ones, so percentiles are clamped by them)."""
    hist, start = Histogram.from_wire(after), Histogram.from_wire(before)
    for key, n in start.counts.items():
        hist.counts[key] -= n
    hist.counts = {k: n for k, n in hist.counts.items() if n}
    hist.count -= start.count
    hist.sum_ms -= start.sum_ms
    return hist


def medians(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (mode, streams, client): the median of each figure over the repeats."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["mode"], run["streams"], run["client"]), []).append(run)
    rows = []
    for (mode, streams, client), group in groups.items():
        row: dict[str, Any] = {"mode": mode, "streams": streams, "client": client}
        row["repeats"] = len(group)
        for key in NUMERIC:
            values = [r[key] for r in group if r.get(key) is not None]
            row[key] = statistics.median(values) if values else None
        rows.append(row)
    return rows


def summarise(rows: list[dict[str, Any]], base: str = "tokenswarm") -> dict[str, Any]:
    """Ratios of CPU per token, highest rates under 1 ms p99 error, simulator capacity."""
    by = {(r["mode"], r["streams"], r["client"]): r for r in rows}
    ratios: dict[str, dict[str, dict[str, float | None]]] = {}
    for (mode, streams, client), row in sorted(by.items()):
        if client != base:
            continue
        level = ratios.setdefault(mode, {}).setdefault(str(streams), {})
        for ref in ("raw", "aiohttp"):
            other = by.get((mode, streams, ref))
            ok = other and other["client_us_per_token"] and row["client_us_per_token"]
            level[f"vs_{ref}"] = (
                row["client_us_per_token"] / other["client_us_per_token"] if ok else None
            )
    best: dict[str, dict[str, dict[str, float | None]]] = {}
    for metric in ("itl_err", "ttft_err"):
        for row in rows:
            slot = best.setdefault(metric, {}).setdefault(row["mode"], {})
            slot.setdefault(row["client"], None)
            p99 = row[f"{metric}_p99_ms"]
            if p99 is not None and p99 < 1.0:
                current = slot[row["client"]]
                slot[row["client"]] = max(current or 0.0, row["tokens_per_s"])
    capacity = {}
    for row in rows:
        if row["sim_us_per_token"]:
            tps = 1e6 / row["sim_us_per_token"]
            capacity[row["mode"]] = max(capacity.get(row["mode"], 0.0), tps)
    return {
        "cpu_ratio": ratios,
        "max_tokens_per_s_p99_itl_err_under_1ms": best.get("itl_err", {}),
        "max_tokens_per_s_p99_ttft_err_under_1ms": best.get("ttft_err", {}),
        "sim_tokens_per_s_per_core": capacity,
    }
