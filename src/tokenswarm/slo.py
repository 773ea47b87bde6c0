"""Service-level objectives: targets per stage, the verdict, and the per-request test of goodput.

Configured as a mapping (YAML ``slo:`` section, or ``--slo ttft_ms:p99=100``)::

    slo:
      ttft_ms: {p99: 100}     # latency metric -> {statistic: max milliseconds}
      itl_ms: {p99: 100}
      error_rate: 0.01        # max failed / (ok + failed) per stage

Defaults (what our users ask for): p99 TTFT < 100 ms, p99 ITL < 100 ms, errors <= 1 %.
A stage passes when every check passes; a check whose value is missing (no successful
request) fails, because a stage that served nothing did not meet its objectives.

Goodput: a request is *good* when it succeeded and its own ``ttft_ms``, ``tpot_ms`` and
``e2e_ms`` are within every target configured for that metric (a per-request test, as in
vLLM's ``--goodput``; ITL is per token, so it is not a per-request criterion).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokenswarm.errors import UserError

LATENCY_METRICS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms")
STATS = ("p50", "p90", "p95", "p99", "p99.9", "mean", "max")
PER_REQUEST_METRICS = ("ttft_ms", "tpot_ms", "e2e_ms")
DEFAULT_SLO: dict[str, Any] = {
    "ttft_ms": {"p99": 100.0},
    "itl_ms": {"p99": 100.0},
    "error_rate": 0.01,
}


@dataclass(frozen=True)
class Target:
    metric: str
    stat: str
    limit: float

    @property
    def name(self) -> str:
        return f"{self.metric} {self.stat}"


@dataclass(frozen=True)
class SloConfig:
    targets: tuple[Target, ...]
    max_error_rate: float | None

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, where: str = "slo") -> SloConfig:
        """Parse and validate; unknown metrics or statistics are errors that name the key."""
        data = DEFAULT_SLO if mapping is None else mapping
        targets: list[Target] = []
        error_rate: float | None = None
        for key, value in data.items():
            if key == "error_rate":
                error_rate = None if value is None else _number(value, f"{where}.error_rate")
                continue
            if key not in LATENCY_METRICS:
                raise UserError(_unknown(where, key, (*LATENCY_METRICS, "error_rate")))
            if not isinstance(value, Mapping):
                raise UserError(f"{where}.{key} must map a statistic to a limit, e.g. {{p99: 100}}")
            for stat, limit in value.items():
                if stat not in STATS:
                    raise UserError(_unknown(f"{where}.{key}", str(stat), STATS))
                targets.append(Target(key, stat, _number(limit, f"{where}.{key}.{stat}")))
        return cls(tuple(targets), error_rate)

    def to_mapping(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for target in self.targets:
            out.setdefault(target.metric, {})[target.stat] = target.limit
        if self.max_error_rate is not None:
            out["error_rate"] = self.max_error_rate
        return out

    def per_request_limits(self) -> dict[str, float]:
        """The tightest limit per goodput metric (see module docstring)."""
        limits: dict[str, float] = {}
        for target in self.targets:
            if target.metric in PER_REQUEST_METRICS:
                limits[target.metric] = min(limits.get(target.metric, target.limit), target.limit)
        return limits

    def evaluate(self, stage: Mapping[str, Any]) -> dict[str, Any]:
        """The verdict for one stage block of summary.json (``metrics``, ``requests``)."""
        checks = []
        for target in self.targets:
            value = stage["metrics"].get(target.metric, {}).get(target.stat)
            checks.append(
                _check(target.name, target.metric, target.stat, "<=", target.limit, value)
            )
        if self.max_error_rate is not None:
            requests = stage["requests"]
            done = requests["ok"] + requests["failed"]
            rate = requests["failed"] / done if done else None
            checks.append(
                _check("error_rate", "error_rate", "ratio", "<=", self.max_error_rate, rate)
            )
        return {"pass": all(c["pass"] for c in checks), "checks": checks}


def is_good(row: Mapping[str, Any], limits: Mapping[str, float]) -> bool:
    """Whether a requests.csv row is a good request under per-request ``limits``."""
    if row.get("status") != "ok":
        return False
    for metric, limit in limits.items():
        value = row.get(metric)
        if value is not None and value != "" and float(value) > limit:
            return False
    return True


def parse_cli_targets(items: list[str]) -> dict[str, Any]:
    """``["ttft_ms:p99=100", "error_rate=0.05"]`` -> an ``slo:`` mapping."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserError(
                f"--slo {item!r}: expected METRIC:STAT=LIMIT (e.g. ttft_ms:p99=200) "
                "or error_rate=0.01"
            )
        metric, _, stat = key.partition(":")
        if stat:
            out.setdefault(metric, {})[stat] = value
        else:
            out[metric] = value
    return out


def _check(
    name: str, metric: str, stat: str, op: str, target: float, value: float | None
) -> dict[str, Any]:
    ok = value is not None and value <= target
    return {
        "name": name,
        "metric": metric,
        "stat": stat,
        "op": op,
        "target": target,
        "value": value,
        "pass": ok,
    }


def _number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: {value!r} is not a number") from None
    if number < 0:
        raise UserError(f"{where}: must be >= 0")
    return number


def _unknown(where: str, key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
    return f"{where}: unknown key {key!r}{hint}"
