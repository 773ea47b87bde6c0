"""The sweep configuration: YAML file (``configs/*.yaml``) + command-line overrides, validated.

Every section and key is known; an unknown key is an error naming it (with the closest known
key), never silently ignored: a typo such as ``durtion: 60s`` would otherwise run a sweep with
the default duration and nobody would notice. The full reference is ``configs/sim.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tokenswarm.errors import UserError, unknown_key
from tokenswarm.profiles import PROFILE_CHOICES
from tokenswarm.run_cli import default_workers
from tokenswarm.run_cli import parse_duration as parse_duration_text

# section -> key -> default (None: optional, no default)
SCHEMA: dict[str, dict[str, Any]] = {
    "target": {"host": "", "engine": "auto", "model": "", "endpoint": "chat",
               "api_key_env": "", "tokenizer": "", "dataset": "synthetic"},
    "sim": {"preset": "default", "settings": {}},
    "load": {"duration": "20s", "requests": 0, "max_stage": "10m", "warmup": "5s",
             "spawn_rate": 0.0, "workers": "auto", "expect_workers": 0,
             "master_bind_host": "*", "master_bind_port": 5557, "stop_timeout": "30s",
             "connect_timeout": 10.0, "first_token_timeout": 300.0, "idle_timeout": 60.0,
             "seed": 0},
    "hardware": {"accelerators": 1, "price_per_hour": 0.0, "name": ""},
    "telemetry": {"agent": "auto", "interval": 1.0},
    "influx": {"url": "", "database": "", "org": "", "bucket": "", "token_env": "",
               "required": False, "grafana_url": ""},
    "report": {"enabled": True},
}
_STRINGS = {
    "target": ("host", "engine", "model", "endpoint", "api_key_env", "tokenizer", "dataset"),
    "sim": ("preset",),
    "hardware": ("name",),
    "influx": ("url", "database", "org", "bucket", "token_env", "grafana_url"),
}
TOP_LEVEL = {*SCHEMA, "scenarios", "slo", "early_stop", "results_dir", "run_id", "launch"}
# ``launch`` (the engine launchers' section) is validated by tokenswarm.launch.engines
# without a config: a quick look (3 levels of the short scenario, ~1.5 min)
TOP_DEFAULTS: dict[str, Any] = {"scenarios": ["short:1,4,16"], "slo": None, "early_stop": False,
                                "results_dir": "results", "run_id": "", "launch": None}


def load_config_file(path: str | None) -> dict[str, Any]:
    """The YAML mapping in ``path`` (empty without a path); one-line errors on bad files."""
    if not path:
        return {}
    file = Path(path)
    if not file.is_file():
        raise UserError(f"config file {path} not found")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UserError(f"config {path}: not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise UserError(f"config {path}: expected a mapping of sections at the top level")
    return dict(data)


def resolve(data: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    """Check keys and fill defaults: a complete config mapping (every section, every key)."""
    for key in data:
        if key not in TOP_LEVEL:
            raise unknown_key(source, str(key), sorted(TOP_LEVEL))
    out: dict[str, Any] = {**TOP_DEFAULTS, **{k: data[k] for k in TOP_DEFAULTS if k in data}}
    for section, defaults in SCHEMA.items():
        given = data.get(section) or {}
        if not isinstance(given, Mapping):
            raise UserError(f"{source}: section {section!r} must be a mapping")
        for key in given:
            if key not in defaults:
                raise unknown_key(f"{source}: {section}", str(key), sorted(defaults))
        out[section] = {**defaults, **given}
    _check(out, source)
    return out


def _check(cfg: dict[str, Any], source: str) -> None:
    target, load, hardware = cfg["target"], cfg["load"], cfg["hardware"]
    if target["engine"] not in PROFILE_CHOICES:
        raise UserError(f"{source}: target.engine {target['engine']!r} is not one of "
                        f"{', '.join(PROFILE_CHOICES)}")
    if target["endpoint"] not in ("chat", "completions"):
        raise UserError(f"{source}: target.endpoint must be chat or completions")
    for key in ("duration", "max_stage", "warmup", "stop_timeout"):
        load[key] = parse_duration(load[key], f"{source}: load.{key}")
    if load["duration"] <= 0 and not load["requests"]:
        raise UserError(f"{source}: load.duration must be > 0 (or set load.requests)")
    if load["workers"] == "auto":
        load["workers"] = default_workers()
    for key in ("requests", "workers", "expect_workers", "seed", "master_bind_port"):
        load[key] = _integer(load[key], f"{source}: load.{key}", minimum=0)
    for key in ("spawn_rate", "connect_timeout", "first_token_timeout", "idle_timeout"):
        load[key] = _float(load[key], f"{source}: load.{key}")
    hardware["accelerators"] = _integer(hardware["accelerators"],
                                        f"{source}: hardware.accelerators", minimum=1)
    hardware["price_per_hour"] = _float(hardware["price_per_hour"],
                                        f"{source}: hardware.price_per_hour")
    if cfg["telemetry"]["agent"] not in ("auto", True, False):
        raise UserError(f"{source}: telemetry.agent must be auto, true or false")
    for section, keys in _STRINGS.items():
        for key in keys:
            if not isinstance(cfg[section][key], str):
                raise UserError(f"{source}: {section}.{key} must be text, got "
                                f"{cfg[section][key]!r}")
    for key in ("run_id", "results_dir"):
        if not isinstance(cfg[key], str):
            raise UserError(f"{source}: {key} must be text, got {cfg[key]!r}")
    if cfg["slo"] is not None and not isinstance(cfg["slo"], Mapping):
        raise UserError(f"{source}: slo must map targets to limits, e.g. {{ttft_p99_ms: 100}}")
    interval = _float(cfg["telemetry"]["interval"], f"{source}: telemetry.interval")
    if interval <= 0:
        raise UserError(f"{source}: telemetry.interval must be > 0 seconds")
    cfg["telemetry"]["interval"] = interval
    if not cfg["target"]["host"]:  # the simulator will run: its preset and settings first
        from tokenswarm.sim.config import build_config

        settings = cfg["sim"]["settings"]
        if not isinstance(settings, Mapping):
            raise UserError(f"{source}: sim.settings must be a mapping of simulator settings")
        try:
            build_config(cfg["sim"]["preset"], dict(settings))
        except UserError as exc:
            raise UserError(f"{source}: sim: {exc}") from None
    if cfg["launch"] is not None:
        from tokenswarm.launch.engines import EngineLaunch

        EngineLaunch.from_mapping(cfg["launch"], f"{source}: launch")
    if not isinstance(cfg["early_stop"], bool):
        raise UserError(f"{source}: early_stop must be true or false")
    if isinstance(cfg["scenarios"], (str, Mapping)) or not cfg["scenarios"]:
        raise UserError(f"{source}: scenarios must be a non-empty list")


def parse_duration(value: Any, where: str) -> float:
    """``30``, ``'30s'``, ``'2m'``, ``'1h30m'`` -> seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        try:
            seconds = parse_duration_text(str(value))
        except UserError:
            raise UserError(f"{where}: invalid duration {value!r} (examples: 30s, 2m)") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise UserError(f"{where}: must be >= 0")
    return seconds


def _integer(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"{where}: expected a whole number >= {minimum}, got {value!r}")
    return value


def _float(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: {value!r} is not a number") from None
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        raise UserError(f"{where}: expected a number >= 0, got {value!r}")
    return number

