"""Grafana dashboards for tokenswarm's InfluxDB data, generated from code.

``python -m tokenswarm.grafana`` writes them to ``grafana/dashboards/`` (the folder the
provisioning mounts); a test keeps the committed JSON equal to what this code builds. No
locust import here: the sweep command and the launchers call :func:`dashboard_url`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from tokenswarm.grafana import correlation, gpu, load

DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "llm-load.json": load.build,
    "gpu-telemetry.json": gpu.build,
    "correlation.json": correlation.build,
}
LOAD_UID = load.UID
DEFAULT_GRAFANA_URL = "http://127.0.0.1:3000"  # grafana/compose.yaml


def dashboard_url(
    grafana_url: str, run_id: str, start_ns: int, end_ns: int, uid: str = LOAD_UID
) -> str:
    """Link to a dashboard showing one run: ``var-run_id`` and the run's time range in ms,
    widened by 10 s on each side so the first and last points are not on the frame edge."""
    margin_ms = 10_000
    query = urlencode(
        {
            "var-run_id": run_id,
            "from": start_ns // 1_000_000 - margin_ms,
            "to": -(-end_ns // 1_000_000) + margin_ms,
        }
    )
    return f"{grafana_url.rstrip('/')}/d/{uid}/?{query}"


def print_run_link(summary: dict[str, Any], grafana_url: str = "") -> None:
    """Print the LLM-load dashboard link of a finished run (its run id and time range);
    ``grafana_url`` defaults to ``$TOKENSWARM_GRAFANA_URL``, else the compose file's."""
    start, end = (int(datetime.fromisoformat(summary[key]).timestamp() * 1e9)
                  for key in ("started_at", "ended_at"))
    base = grafana_url or os.environ.get("TOKENSWARM_GRAFANA_URL", DEFAULT_GRAFANA_URL)
    print(f"tokenswarm: dashboard {dashboard_url(base, summary['run_id'], start, end)}",
          flush=True)
