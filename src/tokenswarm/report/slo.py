"""The report's use of the SLO targets (:mod:`tokenswarm.slo`: one syntax for sweep and
report, defaults, per-stage verdicts): parsing ``--slo``, labels, and the run-level
comparisons the sweep does not make.

Per-stage targets (latency ``<metric>_<stat>_ms`` below, ``error_pct`` at most) decide which
stages meet the SLOs (``SloConfig.evaluate`` on the stage block of summary.json, re-run with
the report's targets). Run-level targets must be exceeded: ``output_tps_per_accelerator``,
``scaling_efficiency_pct``, ``gpu_util_pct``.
"""

from __future__ import annotations

import math
from typing import Any

from tokenswarm.slo import RUN_KEYS, SloConfig, latency_target, parse_cli

LABELS = {
    "error_pct": "errors %",
    "output_tps_per_accelerator": "output tok/s per accelerator",
    "scaling_efficiency_pct": "scaling efficiency %",
    "gpu_util_pct": "GPU utilisation %",
}


def targets(items: list[str]) -> SloConfig:
    """``--slo KEY=VALUE`` items over the defaults (one-line errors naming the key)."""
    return SloConfig.from_mapping(parse_cli(items), where="--slo")


def label(key: str) -> str:
    """'ttft_p99_ms' -> 'TTFT p99 (ms)'."""
    target = latency_target(key)
    if target:
        return f"{target[0].removesuffix('_ms').upper()} {target[1]} (ms)"
    return LABELS[key]


def op(key: str) -> str:
    """'<' for latency, '<=' for errors, '>' for throughput, efficiency and utilisation."""
    return ">" if key in RUN_KEYS else "<=" if key == "error_pct" else "<"


def holds(key: str, value: float, target: float) -> bool:
    comparison = op(key)
    if comparison == ">":
        return value > target
    return value <= target if comparison == "<=" else value < target


def stage_value(row: Any, key: str) -> float | None:
    """A stage row's value for a per-stage key (``ttft_p99_ms`` -> column ``ttft_ms_p99``)."""
    target = latency_target(key)
    value = row.get(f"{target[0]}_{target[1]}" if target else key)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value
