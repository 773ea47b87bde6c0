"""The results directory: ``results/<run_id>/summary.json`` and ``requests.csv``.

Throughput formulas over a stage's steady window ``[measure_from, end)`` (warm-up excluded;
shrunk to 100 ms bucket edges), read from the merged 100 ms token time series (token-time
accounting); the run-level figures sum the stages' windows:

- ``output_tps = output tokens whose chunks arrived inside the window / window_s``
- ``total_tps  = output_tps + input tokens of requests started inside the window / window_s``
- ``rps        = successful requests completed inside the window / window_s``
- ``goodput_rps = rps * good / ok`` (``good``: the stage's successful requests that met every
  per-request SLO, see tokenswarm.slo)

``stages.csv`` flattens the stage blocks: one row per stage, ``<metric>_<stat>`` columns.
"""

from __future__ import annotations

import csv
import json
import platform
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from tokenswarm import __version__
from tokenswarm.collector import BUCKET_NS, METRICS, Collector, StageStats
from tokenswarm.slo import SloConfig

SCHEMA = "tokenswarm.summary/2"
CSV_COLUMNS = (
    "start_time",
    "start_unix_ns",
    "stage",
    "scenario",
    "phase",
    "status",
    "error_class",
    "ttft_ms",
    "tpot_ms",
    "itl_mean_ms",
    "e2e_ms",
    "input_tokens",
    "output_tokens",
    "requested_output_tokens",
    "chunks",
    "worker",
    "error_detail",
)


def iso(wall_ns: int) -> str:
    return datetime.fromtimestamp(wall_ns / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")


class RequestsCsv:
    """Streams request rows to ``requests.csv`` as worker reports arrive (nothing held back)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: TextIO = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        self._writer.writeheader()
        self.rows_written = 0

    def write(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self._writer.writerow({"start_time": iso(int(row["start_unix_ns"])), **row})
        self.rows_written += len(rows)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class Window:
    """The measurement window in wall-clock ns: ``[start_ns, end_ns)``."""

    start_ns: int
    end_ns: int

    @property
    def seconds(self) -> float:
        return max(self.end_ns - self.start_ns, 1) / 1e9

    @classmethod
    def aligned(cls, start_ns: int, end_ns: int) -> Window:
        """The largest window inside ``[start_ns, end_ns)`` on 100 ms bucket edges, so that
        bucket sums are exact: no token from before the warm-up end or after the stop."""
        start = -(-start_ns // BUCKET_NS) * BUCKET_NS
        end = max(end_ns // BUCKET_NS * BUCKET_NS, start)
        return cls(start, end)

    def total(self, buckets: Counter[int]) -> float:
        """Sum of the buckets that start inside the window (exact for an aligned window)."""
        first, last = -(-self.start_ns // BUCKET_NS), -(-self.end_ns // BUCKET_NS) - 1
        return float(sum(v for k, v in buckets.items() if first <= k <= last))


def _stage_metrics(stats: StageStats, windows: list[Window], collector: Collector,
                   ) -> dict[str, Any]:
    """requests, errors, metrics, throughput and tokens of ``stats`` over ``windows``
    (throughput sums each window's buckets and divides by the windows' total length)."""
    counts = stats.counts
    seconds = sum(w.seconds for w in windows) if windows else 1e-9

    def rate(buckets: Counter[int]) -> float:
        return sum(w.total(buckets) for w in windows) / seconds

    output_tps = rate(collector.output_token_buckets)
    rps = rate(collector.completion_buckets)
    ok = counts.get("ok", 0)
    sources = {
        key.removeprefix("output_tokens_source_"): n
        for key, n in counts.items()
        if key.startswith("output_tokens_source_")
    }
    mismatched = counts.get("prompt_tokens_mismatch", 0)
    return {
        "requests": {
            "sent": counts.get("sent", 0),
            "ok": ok,
            "failed": counts.get("failed", 0),
            "interrupted": counts.get("interrupted", 0),
            "transition": counts.get("transition", 0),
            "warmup_excluded": counts.get("warmup_sent", 0),
            "good": counts.get("good", 0),
        },
        "errors": dict(sorted(stats.errors.items())),
        "metrics": {m: stats.hists[m].summary() for m in METRICS},
        "throughput": {
            "output_tps": output_tps,
            "total_tps": output_tps + rate(collector.input_token_buckets),
            "rps": rps,
            # rps x the share of the stage's completed requests that met every per-request SLO
            "goodput_rps": rps * counts.get("good", 0) / ok if ok else 0.0,
        },
        "tokens": {
            "output_tokens": counts.get("output_tokens", 0),
            "input_tokens": counts.get("input_tokens", 0),
            "short_outputs": counts.get("short_outputs", 0),
            "output_tokens_source": sources,
            "prompt_tokens_mismatch": {
                "requests": mismatched,
                "mean_abs_diff": counts.get("prompt_tokens_abs_diff", 0) / mismatched
                if mismatched
                else 0.0,
            },
        },
    }


def stage_block_so_far(collector: Collector, index: int) -> dict[str, Any]:
    """A stage's latency percentiles and request counts from what was merged so far (what a
    live SLO check needs; the final summary adds windows and throughput)."""
    return _stage_metrics(collector.stages.get(index, StageStats()), [], collector)


def _window_block(window: Window, warmup_s: float) -> dict[str, Any]:
    return {
        "start": iso(window.start_ns),
        "end": iso(window.end_ns),
        "seconds": round(window.seconds, 3) if window.end_ns > window.start_ns else 0.0,
        "warmup_s": warmup_s,
    }


def build_summary(
    collector: Collector,
    stop_ns: int,
    *,
    run_id: str,
    started_ns: int,
    config: dict[str, Any],
    workers: list[str],
    locust_version: str,
    slo: SloConfig | None = None,
) -> dict[str, Any]:
    """The summary.json document (schema ``tokenswarm.summary/2``, documented in
    docs/RESULTS.md): one block per stage, and the top level describing all stages together."""
    stage_blocks = []
    windows: list[Window] = []
    for info, (start, end) in zip(
        collector.timeline.stages, collector.timeline.windows(stop_ns), strict=True
    ):
        window = Window.aligned(start, end)
        measured = window.end_ns > window.start_ns
        if measured:
            windows.append(window)
        stats = collector.stages.get(info.index, StageStats())
        block = {
            "index": info.index,
            "name": info.name,
            "scenario": info.scenario,
            "users": info.users,
            "input_tokens": info.input_tokens,
            "output_tokens": info.output_tokens,
            "window": _window_block(window, (info.measure_from_ns - info.started_ns) / 1e9),
            "window_ns": {"start": window.start_ns, "end": window.end_ns},
            **_stage_metrics(stats, [window] if measured else [], collector),
            "complete": True,
            "workers_lost": [],
        }
        if slo is not None:
            block["slo"] = slo.evaluate(block)
        stage_blocks.append(block)
    first = collector.timeline.stages[0] if collector.timeline.stages else None
    overall_window = Window.aligned(first.measure_from_ns if first else started_ns, stop_ns)
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "kind": config.get("kind", "run"),
        "started_at": iso(started_ns),
        "ended_at": iso(stop_ns),
        "window": _window_block(
            overall_window, (first.measure_from_ns - first.started_ns) / 1e9 if first else 0.0
        ),
        **_stage_metrics(collector.overall(), windows, collector),
        "stages": stage_blocks,
        "slo": slo.to_mapping() if slo is not None else None,
        "config": config,
        "workers": workers,
        "versions": {
            "tokenswarm": __version__,
            "locust": locust_version,
            "python": platform.python_version(),
        },
    }


STAGE_COLUMNS = ("index", "name", "scenario", "users", "input_tokens", "output_tokens")
STAGE_STATS = ("p50", "p90", "p99", "mean")


def stage_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per stage (the stages.csv content)."""
    rows = []
    for stage in summary["stages"]:
        row = {key: stage[key] for key in STAGE_COLUMNS}
        row.update({"window_start": stage["window"]["start"],
                    "window_s": stage["window"]["seconds"]})
        row.update(stage["requests"])
        row.update(stage["throughput"])
        for metric in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"):
            for stat in STAGE_STATS:
                row[f"{metric}_{stat}"] = stage["metrics"][metric].get(stat)
        verdict = stage.get("slo")
        row["slo_pass"] = "" if verdict is None else verdict["pass"]
        gpu = stage.get("gpu") or {}
        for key in ("util_pct", "power_w", "tokens_per_joule"):
            row[f"gpu_{key}"] = gpu.get(key, "")
        row["tokens_per_dollar"] = stage.get("tokens_per_dollar", "")
        rows.append(row)
    return rows


def write_stages_csv(run_dir: Path, summary: dict[str, Any]) -> Path:
    rows = stage_rows(summary)
    path = run_dir / "stages.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        if rows:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return path


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "summary.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
