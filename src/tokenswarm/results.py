"""The results directory: ``results/<run_id>/summary.json`` and ``requests.csv``.

Throughput formulas over the measurement window ``[measure_from, end)`` (warm-up excluded;
shrunk to 100 ms bucket edges), read from the merged 100 ms token time series (token-time
accounting):

- ``output_tps = output tokens whose chunks arrived inside the window / window_s``
- ``total_tps  = output_tps + input tokens of requests started inside the window / window_s``
- ``rps        = successful requests completed inside the window / window_s``
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
from tokenswarm.collector import BUCKET_NS, METRICS, Collector

CSV_COLUMNS = (
    "start_time",
    "start_unix_ns",
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


def build_summary(
    collector: Collector,
    window: Window,
    *,
    run_id: str,
    started_ns: int,
    config: dict[str, Any],
    workers: list[str],
    locust_version: str,
) -> dict[str, Any]:
    """The summary.json document (schema documented in README, 'Results')."""
    counts = collector.counts
    output_tps = window.total(collector.output_token_buckets) / window.seconds
    input_tps = window.total(collector.input_token_buckets) / window.seconds
    sources = {
        key.removeprefix("output_tokens_source_"): n
        for key, n in counts.items()
        if key.startswith("output_tokens_source_")
    }
    mismatched = counts.get("prompt_tokens_mismatch", 0)
    return {
        "schema": "tokenswarm.summary/1",
        "run_id": run_id,
        "started_at": iso(started_ns),
        "window": {
            "start": iso(window.start_ns),
            "end": iso(window.end_ns),
            "seconds": round(window.seconds, 3),
            "warmup_s": float(config.get("warmup", (window.start_ns - started_ns) / 1e9)),
        },
        "requests": {
            "sent": counts.get("sent", 0),
            "ok": counts.get("ok", 0),
            "failed": counts.get("failed", 0),
            "interrupted": counts.get("interrupted", 0),
            "warmup_excluded": counts.get("warmup_sent", 0),
        },
        "errors": dict(sorted(collector.errors.items())),
        "metrics": {m: collector.hists[m].summary() for m in METRICS},
        "throughput": {
            "output_tps": output_tps,
            "total_tps": output_tps + input_tps,
            "rps": window.total(collector.completion_buckets) / window.seconds,
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
        "config": config,
        "workers": workers,
        "versions": {
            "tokenswarm": __version__,
            "locust": locust_version,
            "python": platform.python_version(),
        },
    }


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "summary.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
