"""Agent settings: built-in defaults < ``agent.yaml`` < environment < command-line flags.

``telemetry/agent.yaml`` lists every key at its default (a test keeps the two equal), so the
file is also the reference. The ``influx`` section holds :class:`InfluxConfig` fields;
``TOKENSWARM_INFLUX_<FIELD>`` variables override it, the way Locust workers get them, so one
environment file serves both sides. The run id comes from ``--run-id``, else
``TOKENSWARM_RUN_ID`` (set by the launchers), else the config, else a timestamp.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tokenswarm.errors import UserError
from tokenswarm.influx.config import InfluxConfig

INFLUX_ENV_PREFIX = "TOKENSWARM_INFLUX_"


def influx_defaults() -> dict[str, Any]:
    """Every InfluxConfig field at its default; ``url`` empty means "no InfluxDB sink"."""
    values: dict[str, Any] = {"url": ""}
    for f in dataclasses.fields(InfluxConfig):
        if f.default is not dataclasses.MISSING:
            values[f.name] = f.default
    return values


@dataclass
class AgentConfig:
    """Everything ``tokenswarm agent`` needs; field names are the YAML keys."""

    run_id: str = ""
    host: str = ""
    interval_s: float = 1.0
    duration_s: float = 0.0
    sources: list[str] = field(default_factory=lambda: ["auto"])
    tool_paths: dict[str, str] = field(default_factory=dict)
    tool_timeout_s: float = 5.0
    engine_url: str = ""
    results_dir: str = "results"
    file_sink: bool = True
    influx: dict[str, Any] = field(default_factory=influx_defaults)

    def validate(self) -> AgentConfig:
        if not self.interval_s > 0:
            raise UserError(f"interval_s must be > 0, got {self.interval_s}")
        if not self.tool_timeout_s > 0:
            raise UserError(f"tool_timeout_s must be > 0, got {self.tool_timeout_s}")
        if self.duration_s < 0:
            raise UserError(f"duration_s must be >= 0, got {self.duration_s}")
        if not self.sources:
            raise UserError("sources is empty (use auto, or e.g. rocm-smi,host,engine)")
        return self

    def influx_config(self) -> InfluxConfig | None:
        """The InfluxDB sink's settings, or None when no URL is configured."""
        if not self.influx.get("url"):
            return None
        return InfluxConfig.from_mapping(self.influx)

    def telemetry_path(self) -> Path:
        return Path(self.results_dir) / self.run_id / "telemetry.jsonl"


def _typed(key: str, value: Any, default: Any) -> Any:
    """``value`` checked against the type of ``default`` (YAML gives ints for floats)."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, list):
        if isinstance(value, str):
            return split_list(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    elif isinstance(default, dict):
        if isinstance(value, Mapping):
            return dict(value)
    elif isinstance(value, type(default)):
        return value
    raise UserError(f"agent config: {key} must be a {type(default).__name__}, got {value!r}")


def split_list(text: str) -> list[str]:
    """``"hy-smi, host"`` -> ``["hy-smi", "host"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_tool_paths(items: list[str]) -> dict[str, str]:
    """``["rocm-smi=/opt/rocm/bin/rocm-smi"]`` -> ``{"rocm-smi": "/opt/rocm/bin/rocm-smi"}``."""
    paths: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise UserError(f"--tool-path wants NAME=PATH (e.g. rocm-smi=/opt/rocm/bin/rocm-smi),"
                            f" got {item!r}")
        paths[name.strip()] = path.strip()
    return paths


def apply(cfg: AgentConfig, values: Mapping[str, Any], origin: str) -> AgentConfig:
    """``cfg`` with ``values`` (YAML or flags) applied; unknown keys are an error."""
    known = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    for key, value in values.items():
        if key not in known:
            raise UserError(f"{origin}: unknown key {key!r} (known: {', '.join(known)})")
        if key == "influx":
            influx = _typed(key, value, {})
            unknown = sorted(set(influx) - set(cfg.influx))
            if unknown:
                raise UserError(f"{origin}: unknown influx key(s) {', '.join(unknown)} "
                                f"(known: {', '.join(cfg.influx)})")
            cfg.influx.update({k: v for k, v in influx.items() if v is not None})
        else:
            setattr(cfg, key, _typed(key, value, known[key]))
    return cfg


def load_yaml(path: str | Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"agent config {path} not found") from None
    except yaml.YAMLError as exc:
        raise UserError(f"agent config {path} is not valid YAML: {exc}".splitlines()[0]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"agent config {path} must be a mapping of keys to values")
    return data


def build(
    config_file: str | None, flags: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> AgentConfig:
    """Defaults < YAML file < environment < flags (flags given as None are left out)."""
    env = os.environ if environ is None else environ
    cfg = AgentConfig()
    if config_file:
        apply(cfg, load_yaml(config_file), str(config_file))
    for name in list(cfg.influx):
        if INFLUX_ENV_PREFIX + name.upper() in env:
            cfg.influx[name] = env[INFLUX_ENV_PREFIX + name.upper()]
    if env.get("TOKENSWARM_RUN_ID"):
        cfg.run_id = env["TOKENSWARM_RUN_ID"]
    apply(cfg, {k: v for k, v in flags.items() if v is not None}, "command line")
    cfg.run_id = cfg.run_id or time.strftime("agent-%Y%m%d-%H%M%S")
    cfg.host = cfg.host or socket.gethostname()
    return cfg.validate()
