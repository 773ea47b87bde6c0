"""Simulator configuration: presets, YAML files, flag overrides, validation.

Precedence (later wins): built-in defaults < preset < ``--config FILE.yaml`` < command-line flags.
Every key of :class:`SimConfig` may appear in the YAML file and as a ``--flag`` (underscores
become dashes). Every value is validated here, so the engine never sees a nonsensical setting.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from tokenswarm.errors import UserError

FAULT_KEYS: tuple[str, ...] = (
    "fault_429",
    "fault_500",
    "fault_503",
    "fault_cut",
    "fault_malformed",
    "fault_stall",
    "fault_slow_headers",
)


@dataclass(frozen=True)
class SimConfig:
    """All simulator settings (see ``tokenswarm sim --help`` for each one's meaning)."""

    host: str = "127.0.0.1"
    port: int = 8000
    model: str = "tokenswarm-sim"
    seed: int = 0
    tokenizer: str | None = None
    max_model_len: int = 32768
    default_max_tokens: int = 256
    eos_mean_tokens: float = 128.0
    # Continuous batching: step_s = base_ms + per_seq_ms * batch + sum(new prompts)/prefill_tps.
    max_num_seqs: int = 256
    base_ms: float = 6.0
    per_seq_ms: float = 0.06
    prefill_tps: float = 20000.0
    kv_cache_tokens: int = 0
    # Fixed schedule (both set): token i at t_accept + ttft_ms + i * itl_ms.
    ttft_ms: float | None = None
    itl_ms: float | None = None
    # Fixed schedule, burst: every deadline rounded up to a global grid of itl_ms (batched).
    burst: bool = False
    tokens_per_chunk: int = 1
    reasoning_tokens: int = 0
    fault_429: float = 0.0
    fault_500: float = 0.0
    fault_503: float = 0.0
    fault_cut: float = 0.0
    fault_malformed: float = 0.0
    fault_stall: float = 0.0
    fault_slow_headers: float = 0.0
    stall_s: float = 3.0
    slow_headers_s: float = 3.0
    retry_after_s: int = 1

    @property
    def fixed_schedule(self) -> bool:
        """True when tokens follow the load-independent ttft/itl schedule."""
        return self.ttft_ms is not None


@dataclass(frozen=True)
class Preset:
    """A named set of overrides of the defaults, with a one-line description."""

    name: str
    description: str
    values: dict[str, Any]


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "default",
            "fast generic engine: step 6 ms + 0.06 ms/seq, 256 seqs, prefill 20k tok/s",
            {},
        ),
        Preset(
            "k100-ai-7b",
            "7B model on vLLM, one Hygon DCU K100-AI: ~1,880 output tok/s at 32 streams (256/256)",
            # Calibrated with benchmarks/sim_capacity.py: at 32 closed-loop streams a step is
            # 10.0 + 32 * 0.118 = 13.8 ms of decode plus ~3.2 ms of prefill on average
            # (7.3 new 256-token prompts per second / 10k tok/s), so 32 / 17.0 ms = 1,880 tok/s.
            {
                "model": "qwen2.5-7b-instruct",
                "base_ms": 10.0,
                "per_seq_ms": 0.118,
                "prefill_tps": 10000.0,
                "max_num_seqs": 256,
                "max_model_len": 32768,
            },
        ),
        Preset(
            "fixed",
            "load-independent schedule: TTFT 80 ms, ITL 20 ms (for timing-accuracy checks)",
            {"ttft_ms": 80.0, "itl_ms": 20.0},
        ),
        Preset(
            "fixed-burst",
            "fixed schedule on a global 20 ms grid: every stream's token in one burst per step "
            "(TTFT 80-100 ms, ITL 20 ms)",
            {"ttft_ms": 80.0, "itl_ms": 20.0, "burst": True},
        ),
    )
}

_FIELD_TYPES: dict[str, str] = {f.name: str(f.type) for f in fields(SimConfig)}


def _coerce(key: str, value: Any) -> Any:
    """``value`` converted to the type of ``key``; UserError naming the key if impossible."""
    kind = _FIELD_TYPES[key]
    if value is None:
        if "None" in kind:
            return None
        raise UserError(f"sim config: {key} must not be empty")
    try:
        if kind == "bool":
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
                return value.lower() in ("true", "1")
            if not isinstance(value, (bool, int)) or value not in (0, 1):
                raise ValueError(value)
            return bool(value)
        if kind.startswith("int"):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        if kind.startswith("float"):
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise UserError(f"sim config: {key} has an invalid value {value!r}") from None


def validate(cfg: SimConfig) -> SimConfig:
    """``cfg`` itself if every value is sensible, else UserError naming the first bad key."""

    def need(ok: bool, key: str, rule: str) -> None:
        if not ok:
            raise UserError(f"sim config: {key}={getattr(cfg, key)!r} {rule}")

    need(0 <= cfg.port <= 65535, "port", "must be in 0..65535")
    need(bool(cfg.model), "model", "must not be empty")
    for key in ("max_model_len", "default_max_tokens", "max_num_seqs", "tokens_per_chunk"):
        need(getattr(cfg, key) >= 1, key, "must be at least 1")
    for key in ("base_ms", "per_seq_ms", "stall_s", "slow_headers_s"):
        need(getattr(cfg, key) >= 0, key, "must not be negative")
    for key in ("kv_cache_tokens", "reasoning_tokens", "retry_after_s"):
        need(getattr(cfg, key) >= 0, key, "must not be negative")
    need(cfg.eos_mean_tokens > 0, "eos_mean_tokens", "must be positive")
    need(cfg.prefill_tps > 0, "prefill_tps", "must be positive")
    if (cfg.ttft_ms is None) != (cfg.itl_ms is None):
        raise UserError("sim config: ttft_ms and itl_ms must be set together (fixed schedule)")
    if cfg.ttft_ms is not None and cfg.itl_ms is not None:
        need(cfg.ttft_ms >= 0, "ttft_ms", "must not be negative")
        need(cfg.itl_ms >= 0, "itl_ms", "must not be negative")
    need(not cfg.burst or bool(cfg.itl_ms), "burst", "needs a fixed schedule with itl_ms > 0")
    for key in FAULT_KEYS:
        need(0.0 <= getattr(cfg, key) <= 1.0, key, "must be a rate in 0..1")
    total = sum(getattr(cfg, key) for key in FAULT_KEYS)
    if total > 1.0 + 1e-9:
        raise UserError(f"sim config: fault rates add up to {total:g}, more than 1")
    return cfg


def read_yaml(path: str) -> dict[str, Any]:
    """The mapping in YAML file ``path``; UserError if missing, unreadable or not a mapping."""
    import yaml

    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"sim config file not found: {path}")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read sim config {path}: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"sim config {path}: expected a mapping of keys to values")
    return data


def build_config(
    preset: str = "default",
    file_values: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> SimConfig:
    """Defaults < preset < file values < overrides, coerced and validated.

    Keys may use dashes or underscores; an unknown key raises UserError naming it.
    """
    if preset not in PRESETS:
        raise UserError(f"unknown sim preset {preset!r} (choose from {', '.join(PRESETS)})")
    merged: dict[str, Any] = dict(PRESETS[preset].values)
    for source in (file_values or {}, overrides or {}):
        for raw_key, value in source.items():
            key = str(raw_key).replace("-", "_")
            if key not in _FIELD_TYPES:
                raise UserError(f"unknown sim config key {raw_key!r}")
            merged[key] = value
    coerced = {key: _coerce(key, value) for key, value in merged.items()}
    return validate(dataclasses.replace(SimConfig(), **coerced))
