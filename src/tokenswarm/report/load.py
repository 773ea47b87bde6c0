"""A results directory -> a :class:`Run`: its summary, one flat row per stage, the request rows
and the telemetry, with one-line :class:`UserError`s for what is not a readable results dir.

Both summary schemas are read: ``tokenswarm.summary/2`` (``stages`` list) and
``tokenswarm.summary/1`` (a single ``tokenswarm run`` before stages existed: its top level
becomes stage 0 "run"). Stage rows keep summary.json's numbers unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from tokenswarm.errors import UserError
from tokenswarm.report import telemetry as tm
from tokenswarm.report.influx_source import InfluxSource
from tokenswarm.slo import SloConfig

SCHEMAS = ("tokenswarm.summary/1", "tokenswarm.summary/2")
METRICS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms")
STATS = ("mean", "p50", "p90", "p95", "p99", "p99.9", "max")
THROUGHPUT = ("output_tps", "total_tps", "rps", "goodput_rps")
DEFAULT = SloConfig.from_mapping(None)
GPU_KEYS = ("util_pct", "power_w", "energy_j", "tokens_per_joule", "vram_used_pct", "temp_max_c")


@dataclass
class Run:
    path: Path
    summary: dict[str, Any]
    blocks: list[dict[str, Any]]  # the summary's stage blocks (schema 1: one built from it)
    stages: pd.DataFrame  # one row per stage, columns from :func:`stage_row`
    requests: pd.DataFrame | None  # requests.csv, or None when absent
    telemetry: tm.Telemetry | None  # telemetry.jsonl, or None when absent

    @property
    def run_id(self) -> str:
        return str(self.summary.get("run_id") or self.path.name)

    @property
    def accelerators(self) -> int:
        return int(self.summary.get("accelerators") or 1)

    @property
    def started_ns(self) -> int:
        return _ns(self.summary["started_at"])


def _ns(iso_text: str) -> int:
    return int(datetime.fromisoformat(iso_text).timestamp() * 1e9)


def _v1_stage(summary: dict[str, Any]) -> dict[str, Any]:
    """A schema-1 summary as the one stage it describes."""
    config = summary.get("config", {})
    window = summary["window"]
    return {
        **{k: summary[k] for k in ("requests", "errors", "metrics", "throughput")},
        "index": 0,
        "name": "run",
        "scenario": "run",
        "users": config.get("users"),
        "input_tokens": config.get("input_tokens"),
        "output_tokens": config.get("output_tokens"),
        "window": window,
        "window_ns": {"start": _ns(window["start"]), "end": _ns(window["end"])},
    }


def stage_row(run_id: str, stage: dict[str, Any]) -> dict[str, Any]:
    """One stage as flat columns: ``ttft_ms_p99``, ``output_tps``, ``gpu_util_pct``, ..."""
    req = stage["requests"]
    sent = req.get("ok", 0) + req.get("failed", 0)
    row: dict[str, Any] = {
        "run": run_id,
        **{
            k: stage.get(k)
            for k in (
                "index",
                "name",
                "scenario",
                "users",
                "input_tokens",
                "output_tokens",
                "endpoint",
            )
        },
        "start_ns": int(stage["window_ns"]["start"]),
        "end_ns": int(stage["window_ns"]["end"]),
        "seconds": float(stage["window"]["seconds"]),
        **{k: req.get(k, 0) for k in ("ok", "failed", "interrupted")},
        "error_pct": 100.0 * req.get("failed", 0) / sent if sent else 0.0,
        "errors": dict(stage.get("errors") or {}),
        **{k: stage["throughput"].get(k) for k in THROUGHPUT},
        "tokens_per_dollar": stage.get("tokens_per_dollar"),
        "complete": bool(stage.get("complete", True)) and not stage.get("workers_lost"),
        "sweep_slo_pass": (stage.get("slo") or {}).get("pass"),
        "client_saturated": (stage.get("health") or {}).get("saturated"),
        "client_cpu_max": (stage.get("health") or {}).get("cpu_pct_max"),
        "client_lag_p99_ms": (stage.get("health") or {}).get("loop_lag_p99_ms"),
        "gpu_from": "summary" if stage.get("gpu") else None,
    }
    for metric in METRICS:
        stats = stage["metrics"].get(metric) or {}
        row.update({f"{metric}_{s}": stats.get(s) for s in STATS})
    gpu = stage.get("gpu") or {}
    row.update({f"gpu_{k}": gpu.get(k) for k in GPU_KEYS})
    return row


def _fill_gpu(stages: pd.DataFrame, telemetry: tm.Telemetry | None) -> None:
    """Stages whose summary has no gpu block get it from the run's telemetry, when any."""
    if telemetry is None or telemetry.gpu.empty:
        return
    for i, row in stages.iterrows():
        if row["gpu_from"] is not None:
            continue
        stats = tm.stage_gpu_stats(
            telemetry.gpu,
            row["start_ns"],
            row["end_ns"],
            (row["output_tps"] or 0.0) * row["seconds"],
        )
        if stats is not None:
            for key in GPU_KEYS:
                stages.at[i, f"gpu_{key}"] = stats[key]
            stages.at[i, "gpu_from"] = "telemetry.jsonl"


def read_summary(path: Path) -> dict[str, Any]:
    """summary.json of a results dir, checked enough to be reported on (one-line errors)."""
    if not path.is_dir():
        raise UserError(f"{path} is not a directory (give a results/<run_id> folder)")
    file = path / "summary.json"
    if not file.is_file():
        what = "is empty" if not any(path.iterdir()) else "has no summary.json"
        raise UserError(f"{path} {what}: not a tokenswarm results directory")
    try:
        summary = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{file} is not valid JSON: {exc}") from None
    if not isinstance(summary, dict):
        raise UserError(f"{file} is malformed: not a JSON object")
    schema = summary.get("schema")
    if schema not in SCHEMAS:
        raise UserError(
            f"{file} has unknown schema {schema!r} (this report reads {', '.join(SCHEMAS)})"
        )
    return summary


def load_run(path: Path, influx: InfluxSource | None = None) -> Run:
    """Read one results directory (see the module doc); telemetry from ``influx`` when given
    and it holds points of this run, else from telemetry.jsonl."""
    summary = read_summary(path)
    file = path / "summary.json"
    try:
        stages = summary["stages"] if summary["schema"].endswith("/2") else [_v1_stage(summary)]
        run_id = str(summary.get("run_id") or path.name)
        frame = pd.DataFrame([stage_row(run_id, s) for s in stages])
        for block in stages:  # what the report's SLO verdicts will read
            DEFAULT.evaluate(block)
        _ns(summary["started_at"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{file} is malformed: {type(exc).__name__} {exc}") from None
    if frame.empty:
        raise UserError(f"{file} has no stages")
    requests = None
    csv = path / "requests.csv"
    if csv.is_file() and csv.stat().st_size:
        try:
            requests = pd.read_csv(csv)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise UserError(f"{csv} is malformed: {exc}".splitlines()[0]) from None
    telemetry = influx.read(run_id) if influx is not None else None
    telemetry = telemetry or tm.read_file(path / tm.TELEMETRY_FILE)
    _fill_gpu(frame, telemetry)
    return Run(path, summary, stages, frame, requests, telemetry)
