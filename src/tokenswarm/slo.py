"""Service-level objectives: targets, the per-stage verdict, and the per-request goodput test.

One flat syntax everywhere (YAML ``slo:`` section, ``--slo KEY=VALUE`` of sweep and report)::

    slo:
      ttft_p99_ms: 100        # <ttft|itl|tpot|e2e>_<p50|p90|p95|p99|p99.9|mean|max>_ms: below
      itl_p99_ms: 100
      error_pct: 1            # failed / (ok + failed) * 100 per stage: at most
      output_tps_per_accelerator: 1800   # run-level targets, judged by the report
      scaling_efficiency_pct: 95
      gpu_util_pct: 85

Defaults are what our users ask for (above). ``KEY: off`` (or ``--slo KEY=off``) drops a
check. A stage passes when every per-stage check passes; a check whose value is missing (no
successful request) fails, because a stage that served nothing did not meet its objectives.

Goodput: a request is *good* when it succeeded and its own ``ttft_ms``, ``tpot_ms`` and
``e2e_ms`` are below every target configured for that metric (a per-request test, as in
vLLM's ``--goodput``; ITL is per token, so it is not a per-request criterion).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokenswarm.errors import UserError, unknown_key

LATENCY_KEY = re.compile(r"^(ttft|itl|tpot|e2e)_(p50|p90|p95|p99|p99\.9|mean|max)_ms$")
RUN_KEYS = ("output_tps_per_accelerator", "scaling_efficiency_pct", "gpu_util_pct")
PER_REQUEST_METRICS = ("ttft_ms", "tpot_ms", "e2e_ms")
DEFAULT_SLO: dict[str, float] = {
    "ttft_p99_ms": 100.0,
    "itl_p99_ms": 100.0,
    "error_pct": 1.0,
    "output_tps_per_accelerator": 1800.0,
    "scaling_efficiency_pct": 95.0,
    "gpu_util_pct": 85.0,
}
KNOWN_KEYS = "<ttft|itl|tpot|e2e>_<p50|p90|p95|p99|p99.9|mean|max>_ms, " + ", ".join(
    k for k in DEFAULT_SLO if not k.endswith("_ms")
)


def latency_target(key: str) -> tuple[str, str] | None:
    """``'ttft_p99_ms'`` -> ``('ttft_ms', 'p99')``; None for other keys."""
    match = LATENCY_KEY.match(key)
    return (f"{match[1]}_ms", match[2]) if match else None


@dataclass(frozen=True)
class SloConfig:
    """Validated targets: key -> limit (defaults overlaid by what was configured)."""

    values: dict[str, float]

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, where: str = "slo") -> SloConfig:
        """Defaults overlaid by ``mapping``; unknown keys and non-numbers name the key."""
        values = dict(DEFAULT_SLO)
        for key, raw in (mapping or {}).items():
            key = str(key).strip()
            if not (latency_target(key) or key in DEFAULT_SLO):
                raise unknown_key(where, key, DEFAULT_SLO, KNOWN_KEYS)
            if raw is False or str(raw).strip().lower() == "off":
                values.pop(key, None)
                continue
            values[key] = _number(raw, f"{where}.{key}")
        return cls(values)

    def to_mapping(self) -> dict[str, float]:
        return dict(self.values)

    def stage_keys(self) -> list[str]:
        return [k for k in self.values if k not in RUN_KEYS]

    def per_request_limits(self) -> dict[str, float]:
        """The tightest limit per goodput metric (see module docstring)."""
        limits: dict[str, float] = {}
        for key, limit in self.values.items():
            target = latency_target(key)
            if target and target[0] in PER_REQUEST_METRICS:
                limits[target[0]] = min(limits.get(target[0], limit), limit)
        return limits

    def evaluate(self, stage: Mapping[str, Any]) -> dict[str, Any]:
        """The verdict for one stage block of summary.json (``metrics``, ``requests``)."""
        checks = []
        for key in self.stage_keys():
            limit = self.values[key]
            target = latency_target(key)
            if target is not None:
                value = stage["metrics"].get(target[0], {}).get(target[1])
                checks.append(_check(key, value, "<", limit))
            else:  # error_pct
                requests = stage["requests"]
                done = requests["ok"] + requests["failed"]
                value = 100.0 * requests["failed"] / done if done else None
                checks.append(_check(key, value, "<=", limit))
        return {"pass": all(c["pass"] for c in checks), "checks": checks}


def is_good(row: Mapping[str, Any], limits: Mapping[str, float]) -> bool:
    """Whether a requests.csv row is a good request under per-request ``limits``."""
    if row.get("status") != "ok":
        return False
    for metric, limit in limits.items():
        value = row.get(metric)
        if value is not None and value != "" and float(value) >= limit:
            return False
    return True


def parse_cli(items: list[str]) -> dict[str, str]:
    """``["ttft_p99_ms=200", "error_pct=off"]`` -> an ``slo:`` mapping (validated later)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--slo {item!r}: expected KEY=VALUE with KEY one of {KNOWN_KEYS}")
        out[key.strip()] = value.strip()
    return out


def _check(key: str, value: float | None, op: str, target: float) -> dict[str, Any]:
    ok = value is not None and (value < target if op == "<" else value <= target)
    return {"key": key, "value": value, "op": op, "target": target, "pass": ok}


def _number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise UserError(f"{where}: {value!r} is not a number >= 0 (or off)")
    return number
