"""Engine launch settings (a config mapping) and the server command line each engine needs.

The mapping is the ``launch:`` block of a config file (or the whole file):

    launch:
      engine: vllm                  # vllm | sglang | xinference
      model: /models/Qwen2.5-7B-Instruct
      served_model_name: qwen2.5-7b # optional; Xinference: the model family, with model: a path
                                    #   (model: alone is the family name Xinference fetches)
      host: 127.0.0.1
      port: 8000
      devices: [0, 1, 2, 3, 4, 5, 6, 7]   # accelerators this host may use
      tensor_parallel_size: 1       # the N-accelerator flow sets it to N (scale_by: tensor)
      scale_by: tensor              # tensor | data (vLLM --data-parallel-size, SGLang --dp-size)
      memory_fraction: 0.9          # vLLM --gpu-memory-utilization, SGLang --mem-fraction-static
      max_model_len: 8192           # vLLM --max-model-len, SGLang --context-length
      device_env: auto              # HIP_VISIBLE_DEVICES | CUDA_VISIBLE_DEVICES | auto (/dev/kfd)
      extra_args: []                # appended to the server command
      env: {}                       # extra environment for the server
      command: null                 # replaces the server command; {host} {port} {model}
                                    #   {served_model_name} {tp} {devices} are substituted
      ready_timeout_s: 1800         # loading a big model takes minutes
      stop_timeout_s: 60

Unknown keys are errors (a typo must not silently launch a different server).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from tokenswarm.errors import UserError

ENGINES = ("vllm", "sglang", "xinference")
_NUMBERS: dict[str, type] = {
    "port": int,
    "tensor_parallel_size": int,
    "max_model_len": int,
    "memory_fraction": float,
    "ready_timeout_s": float,
    "stop_timeout_s": float,
}
DEVICE_ENVS = ("auto", "HIP_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")


@dataclass(frozen=True)
class EngineLaunch:
    """Validated launch settings (see the module docstring for each key)."""

    engine: str
    model: str
    served_model_name: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    devices: tuple[int, ...] = (0,)
    tensor_parallel_size: int = 1
    scale_by: str = "tensor"
    memory_fraction: float | None = None
    max_model_len: int | None = None
    device_env: str = "auto"
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    ready_timeout_s: float = 1800.0
    stop_timeout_s: float = 60.0

    @classmethod
    def from_mapping(cls, data: Any, source: str = "launch") -> EngineLaunch:
        """Validate a ``launch:`` mapping; every mistake is a UserError naming ``source``."""
        if not isinstance(data, dict):
            raise UserError(f"{source}: the launch settings must be a mapping")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(
                f"{source}: unknown launch key(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        values = dict(data)
        for key in ("extra_args", "command"):
            if isinstance(values.get(key), str):
                values[key] = shlex.split(values[key])
        if "devices" in values:
            values["devices"] = _devices(values["devices"], source)
        for key in ("extra_args", "command"):
            values[key] = tuple(str(v) for v in values.get(key) or ())
        values["env"] = {str(k): str(v) for k, v in (values.get("env") or {}).items()}
        for key, kind in _NUMBERS.items():
            if values.get(key) is not None:
                try:
                    values[key] = kind(values[key])
                except (TypeError, ValueError):
                    raise UserError(f"{source}: {key} must be a number") from None
        try:
            launch = cls(**values)
        except TypeError as exc:
            raise UserError(f"{source}: {exc}") from None
        launch.validate(source)
        return launch

    def validate(self, source: str) -> None:
        if self.engine not in ENGINES and not self.command:
            raise UserError(
                f"{source}: engine must be one of {', '.join(ENGINES)} (or give command:)"
            )
        if not self.model and not self.command:
            raise UserError(f"{source}: model (path or id) is required")
        if self.scale_by not in ("tensor", "data"):
            raise UserError(f"{source}: scale_by must be tensor or data")
        if self.scale_by == "data" and self.engine == "xinference":
            raise UserError(f"{source}: Xinference scales by tensor parallelism only")
        if self.device_env not in DEVICE_ENVS:
            raise UserError(f"{source}: device_env must be one of {', '.join(DEVICE_ENVS)}")
        if self.tensor_parallel_size < 1 or len(self.devices) < 1:
            raise UserError(f"{source}: tensor_parallel_size and devices need at least 1")
        if self.memory_fraction is not None and not 0 < self.memory_fraction <= 1:
            raise UserError(f"{source}: memory_fraction must be in (0, 1]")
        substitute(self.command, self._placeholders(), f"{source}: command")

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def with_accelerators(self, n: int) -> EngineLaunch:
        """The same server on the first ``n`` devices, parallel over all ``n``."""
        if n > len(self.devices):
            raise UserError(f"{n} accelerators asked, but devices lists only {len(self.devices)}")
        return replace(self, devices=self.devices[:n], tensor_parallel_size=n)

    def server_command(self) -> list[str]:
        if self.command:
            return substitute(self.command, self._placeholders(), "launch: command")
        return [*_BUILDERS[self.engine](self), *self.extra_args]

    def setup_commands(self) -> list[list[str]]:
        """Commands run once the server answers (Xinference: launch the model)."""
        if self.engine != "xinference" or self.command:
            return []
        name = self.served_model_name or self.model
        path = ["--model-path", self.model] if self.served_model_name else []
        cmd = [
            "xinference",
            "launch",
            "--endpoint",
            self.url,
            "--model-name",
            name,
            "--model-engine",
            "vllm",
            *path,
            "--n-gpu",
            str(self.tensor_parallel_size),
        ]
        if self.memory_fraction is not None:
            cmd += ["--gpu_memory_utilization", f"{self.memory_fraction:g}"]
        if self.max_model_len is not None:
            cmd += ["--max_model_len", str(self.max_model_len)]
        return [cmd]

    def server_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment with the visible devices set (and ``env:`` added)."""
        env = dict(os.environ if base is None else base)
        name = self.device_env
        if name == "auto":
            name = "HIP_VISIBLE_DEVICES" if Path("/dev/kfd").exists() else "CUDA_VISIBLE_DEVICES"
        env[name] = ",".join(str(d) for d in self.devices)
        env.update(self.env)
        return env

    def _placeholders(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "model": self.model,
            "served_model_name": self.served_model_name,
            "tp": self.tensor_parallel_size,
            "devices": ",".join(str(d) for d in self.devices),
        }


def substitute(parts: Sequence[str], values: dict[str, Any], what: str) -> list[str]:
    """``{name}`` placeholders replaced in each part (``{{`` for a literal brace)."""
    try:
        return [part.format(**values) for part in parts]
    except (KeyError, IndexError, ValueError) as exc:
        raise UserError(
            f"{what}: bad placeholder {exc} (known: {', '.join('{' + k + '}' for k in values)}; "
            "write {{ and }} for literal braces)"
        ) from None


def _devices(value: Any, source: str) -> tuple[int, ...]:
    items = value.split(",") if isinstance(value, str) else value
    try:
        return tuple(int(str(v).strip()) for v in (items if isinstance(items, list) else [items]))
    except ValueError:
        raise UserError(f"{source}: devices must be indexes like [0, 1] or '0,1'") from None


def _parallel(launch: EngineLaunch, tensor_flag: str, data_flag: str) -> list[str]:
    n = launch.tensor_parallel_size
    return [data_flag if launch.scale_by == "data" else tensor_flag, str(n)]


def _server(launch: EngineLaunch, start: list[str], parallel: tuple[str, str], memory: str,
            max_len: str) -> list[str]:
    """The OpenAI server command of vLLM or SGLang: ``start`` (the program and the model),
    then the flags each names its own way (parallelism, memory fraction, context length)."""
    cmd = [*start, "--host", launch.host, "--port", str(launch.port), *_parallel(launch, *parallel)]
    if launch.memory_fraction is not None:
        cmd += [memory, f"{launch.memory_fraction:g}"]
    if launch.max_model_len is not None:
        cmd += [max_len, str(launch.max_model_len)]
    return cmd + (
        ["--served-model-name", launch.served_model_name] if launch.served_model_name else []
    )


def _vllm(launch: EngineLaunch) -> list[str]:
    return _server(launch, ["vllm", "serve", launch.model],
                   ("--tensor-parallel-size", "--data-parallel-size"),
                   "--gpu-memory-utilization", "--max-model-len")


def _sglang(launch: EngineLaunch) -> list[str]:
    return _server(launch, ["python3", "-m", "sglang.launch_server", "--model-path", launch.model],
                   ("--tp-size", "--dp-size"), "--mem-fraction-static", "--context-length")


def _xinference(launch: EngineLaunch) -> list[str]:
    return ["xinference-local", "--host", launch.host, "--port", str(launch.port)]


_BUILDERS = {"vllm": _vllm, "sglang": _sglang, "xinference": _xinference}
