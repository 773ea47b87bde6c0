"""After the sweep: what Locust's master cannot know, added to summary.json and stages.csv.

- ``environment``: versions, platform, load-generator host, the engine's ``/version`` and
  model (when it exposes them), and the GPU inventory from the telemetry the agent wrote;
- per stage ``gpu``: utilisation, power, energy and tokens/J over the stage's window
  (``tokenswarm.report.telemetry.gpu_stage_stats``; null without telemetry);
- per stage ``tokens_per_dollar = output_tps * 3600 / price_per_hour`` (price of the whole
  server under test; null when no price was configured);
- ``accelerators`` and ``price_per_hour`` at the top level, for per-card figures and scaling.
"""

from __future__ import annotations

import json
import os
import platform
import socket
from pathlib import Path
from typing import Any

import requests

from tokenswarm import __version__
from tokenswarm.preflight import Target, auth_headers
from tokenswarm.results import write_stages_csv, write_summary

VERSION_TIMEOUT_S = 5.0


def enrich_summary(run_dir: Path, cfg: dict[str, Any], host: str, target: Target,
                   version: str | None) -> dict[str, Any]:
    """Read, complete and rewrite ``run_dir/summary.json`` (and stages.csv); returns it."""
    from tokenswarm.report.telemetry import gpu_stage_stats

    path = run_dir / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    hardware = cfg["hardware"]
    price = hardware["price_per_hour"] or None
    summary["accelerators"] = hardware["accelerators"]
    summary["price_per_hour"] = price
    stages = summary["stages"]
    windows = [(s["window_ns"]["start"], s["window_ns"]["end"]) for s in stages]
    tokens = [s["throughput"]["output_tps"] * s["window"]["seconds"] for s in stages]
    for stage, gpu in zip(stages, gpu_stage_stats(run_dir, windows, tokens), strict=True):
        stage["gpu"] = gpu
        stage["tokens_per_dollar"] = (
            stage["throughput"]["output_tps"] * 3600 / price if price else None
        )
    summary["environment"] = environment(run_dir, host, target, version, summary)
    write_summary(run_dir, summary)
    write_stages_csv(run_dir, summary)
    return summary


def environment(run_dir: Path, host: str, target: Target, version: str | None,
                summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "tokenswarm": __version__,
        "locust": summary.get("versions", {}).get("locust"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadgen_host": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "engine": {
            "base_url": host,
            "model": target.model,
            "owned_by": target.owned_by,
            "version": version,
        },
        "gpus": gpu_inventory(run_dir / "telemetry.jsonl"),
    }


def engine_version(host: str, api_key: str) -> str | None:
    """``GET /version`` (vLLM, SGLang, the simulator): its ``version`` field, else None."""
    try:
        response = requests.get(f"{host.rstrip('/')}/version", headers=auth_headers(api_key),
                                timeout=VERSION_TIMEOUT_S)
        if response.ok:
            version = response.json().get("version")
            return str(version) if version is not None else None
    except (requests.RequestException, ValueError, AttributeError):
        pass
    return None


def gpu_inventory(telemetry: Path) -> list[dict[str, str]]:
    """One entry per (host, gpu) seen in the agent's gpu points, with model and uuid."""
    if not telemetry.is_file():
        return []
    seen: dict[tuple[str, str], dict[str, str]] = {}
    with telemetry.open(encoding="utf-8") as file:
        for line in file:
            try:
                point = json.loads(line)
            except ValueError:
                continue
            if not isinstance(point, dict) or point.get("measurement") != "gpu":
                continue
            tags = point.get("tags", {})
            key = (str(tags.get("host", "")), str(tags.get("gpu", "")))
            seen.setdefault(key, {name: str(tags[name]) for name in
                                  ("host", "gpu", "model", "uuid", "tool") if name in tags})
    return [seen[key] for key in sorted(seen)]
