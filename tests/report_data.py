"""Synthetic results directories for the report tests (written under tmp_path, never committed).

:func:`build_run` writes ``summary.json`` (schema tokenswarm.summary/2, the contract of the
sweep), ``requests.csv`` with stage/scenario columns and, optionally, ``telemetry.jsonl`` with
GPU points at 1 s (constant power and utilisation per stage, so energy and tokens/J are known
exactly) and engine points. Each stage: 1 s ramp, 2 s warm-up, then a ``STAGE_S`` window.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

T0_NS = 1_795_660_800_000_000_000
STAGE_S = 10
LEAD_S = 3  # ramp + warm-up before each window
STATS = ("p50", "p90", "p95", "p99", "p99.9")


def iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Stage:
    scenario: str
    users: int
    output_tps: float
    ttft_p99: float = 50.0
    itl_p99: float = 20.0
    itl_p50: float | None = None
    errors: dict[str, int] = field(default_factory=dict)
    ok: int = 100
    util_pct: float = 90.0
    power_w: float = 300.0
    kv_pct: float = 40.0
    saturated: bool | None = None
    input_tokens: int = 128
    output_tokens: int = 128
    complete: bool = True


def stage_window(i: int) -> tuple[int, int]:
    start = T0_NS + (i * (LEAD_S + STAGE_S) + LEAD_S) * 1_000_000_000
    return start, start + STAGE_S * 1_000_000_000


def _metric(p99: float, p50: float | None = None) -> dict[str, float]:
    """Percentiles scaled from p99 (p50 = 0.6 p99 unless given): distinct, ordered values."""
    low = 0.6 * p99 if p50 is None else p50
    values = dict(
        zip(
            STATS,
            (low, low + 0.6 * (p99 - low), low + 0.8 * (p99 - low), p99, p99 * 1.1),
            strict=True,
        )
    )
    return {"count": 100, "mean": low * 1.05, "min": low * 0.5, "max": p99 * 1.2, **values}


def stage_json(
    i: int, s: Stage, price_per_hour: float | None, gpus: int, telemetry: bool
) -> dict[str, Any]:
    start, end = stage_window(i)
    failed = sum(s.errors.values())
    energy = s.power_w * gpus * STAGE_S
    tokens = s.output_tps * STAGE_S
    return {
        "index": i,
        "name": f"{s.scenario}@{s.users}",
        "scenario": s.scenario,
        "users": s.users,
        "input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens,
        "endpoint": "chat",
        "window": {
            "start": iso(start),
            "end": iso(end),
            "seconds": float(STAGE_S),
            "warmup_s": 2.0,
        },
        "window_ns": {"start": start, "end": end},
        "requests": {
            "sent": s.ok + failed,
            "ok": s.ok,
            "failed": failed,
            "interrupted": 0,
            "warmup_excluded": 3,
        },
        "errors": dict(s.errors),
        "metrics": {
            "ttft_ms": _metric(s.ttft_p99),
            "itl_ms": _metric(s.itl_p99, s.itl_p50),
            "tpot_ms": _metric(s.itl_p99 * 0.9),
            "e2e_ms": _metric(s.ttft_p99 + 2000),
            "chunk_gap_ms": _metric(s.itl_p99),
        },
        "throughput": {
            "output_tps": s.output_tps,
            "total_tps": s.output_tps * 2.0,
            "rps": s.output_tps / s.output_tokens,
            "goodput_rps": s.output_tps / s.output_tokens * 0.9,
        },
        "slo": {"pass": s.ttft_p99 < 100, "checks": []},
        "gpu": (
            {
                "util_pct": s.util_pct,
                "power_w": s.power_w * gpus,
                "energy_j": energy,
                "tokens_per_joule": tokens / energy,
                "vram_used_pct": 50.0,
                "temp_max_c": 60.0,
                "samples": STAGE_S * gpus,
                "gpus": gpus,
            }
            if telemetry
            else None
        ),
        "tokens_per_dollar": s.output_tps * 3600 / price_per_hour if price_per_hour else None,
        "complete": s.complete,
        "workers_lost": [],
        **(
            {
                "health": {
                    "saturated": s.saturated,
                    "cpu_pct_max": 97.0 if s.saturated else 40.0,
                    "loop_lag_p99_ms": 12.3 if s.saturated else 0.4,
                }
            }
            if s.saturated is not None
            else {}
        ),
    }


def _requests(stages: list[Stage]) -> list[dict[str, Any]]:
    rows = []
    for i, s in enumerate(stages):
        start, _ = stage_window(i)
        for k in range(20):
            t = start + k * (STAGE_S * 1_000_000_000 // 20)
            ttft = s.ttft_p99 * (0.5 + k / 40)
            e2e = ttft + s.itl_p99 * 0.6 * (s.output_tokens - 1)
            rows.append(
                {
                    "start_time": iso(t),
                    "start_unix_ns": t,
                    "phase": "measure",
                    "stage": i,
                    "scenario": s.scenario,
                    "status": "ok",
                    "error_class": "",
                    "ttft_ms": ttft,
                    "tpot_ms": s.itl_p99 * 0.6,
                    "itl_mean_ms": s.itl_p99 * 0.6,
                    "e2e_ms": e2e,
                    "input_tokens": s.input_tokens,
                    "output_tokens": s.output_tokens,
                    "requested_output_tokens": s.output_tokens,
                    "chunks": s.output_tokens,
                    "worker": "w:1",
                    "error_detail": "",
                }
            )
    return rows


def _telemetry(run_id: str, stages: list[Stage], gpus: int) -> list[dict[str, Any]]:
    lines = []
    end_s = len(stages) * (LEAD_S + STAGE_S) + 1
    for second in range(-1, end_s + 1):
        t = T0_NS + second * 1_000_000_000
        i = min(max(second, 0) // (LEAD_S + STAGE_S), len(stages) - 1)
        s = stages[i]
        for gpu in range(gpus):
            lines.append(
                {
                    "measurement": "gpu",
                    "tags": {"gpu": str(gpu), "host": "h", "run_id": run_id, "tool": "rocm-smi"},
                    "fields": {
                        "util_pct": s.util_pct,
                        "power_w": s.power_w,
                        "vram_used_pct": 50.0,
                        "temp_edge_c": 55.0,
                        "temp_junction_c": 60.0,
                    },
                    "time_ns": t,
                }
            )
        lines.append(
            {
                "measurement": "engine",
                "tags": {"engine": "vllm", "host": "h", "run_id": run_id},
                "fields": {
                    "kv_cache_usage_pct": s.kv_pct,
                    "requests_waiting": 2.0,
                    "requests_running": float(s.users),
                },
                "time_ns": t,
            }
        )
    return lines


def build_run(
    root: Path,
    run_id: str,
    stages: list[Stage],
    *,
    accelerators: int = 1,
    telemetry: bool = True,
    gpu_block: bool = True,
    gpus: int = 1,
    price_per_hour: float | None = 2.0,
    requests: bool = True,
) -> Path:
    """Write ``root/run_id/``; ``gpu_block=False`` leaves the summary's gpu blocks null so the
    report must compute them from telemetry.jsonl."""
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    summary = {
        "schema": "tokenswarm.summary/2",
        "kind": "sweep",
        "run_id": run_id,
        "started_at": iso(T0_NS),
        "ended_at": iso(stage_window(len(stages) - 1)[1]),
        "accelerators": accelerators,
        "price_per_hour": price_per_hour,
        "slo": {"ttft_ms": {"stat": "p99", "max": 100.0}},
        "environment": {"engine": {"model": "sim-7b", "version": "0.1"}},
        "stages": [
            stage_json(i, s, price_per_hour, gpus, telemetry and gpu_block)
            for i, s in enumerate(stages)
        ],
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    if requests:
        rows = _requests(stages)
        with (run_dir / "requests.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    if telemetry:
        text = "".join(json.dumps(p) + "\n" for p in _telemetry(run_id, stages, gpus))
        (run_dir / "telemetry.jsonl").write_text(text)
    return run_dir


def sweep(scenario: str, levels: dict[int, float], **kw: Any) -> list[Stage]:
    """One Stage per ``{users: output_tps}``; ``kw`` values may be callables of users."""
    return [
        Stage(scenario, users, tps, **{k: v(users) if callable(v) else v for k, v in kw.items()})
        for users, tps in levels.items()
    ]


def make_report(out: Path, *dirs: Path, args: tuple[str, ...] = ()) -> tuple[str, str]:
    """Run ``tokenswarm report DIRS -o out`` in-process; (html text, markdown text)."""
    from tokenswarm.cli import main

    code = main(["report", *map(str, dirs), "-o", str(out), *args])
    assert code == 0
    return out.read_text(encoding="utf-8"), out.with_suffix(".md").read_text(encoding="utf-8")
