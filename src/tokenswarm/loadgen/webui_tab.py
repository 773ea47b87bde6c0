"""The LLM tab's table: one row per stage, built from the live document (webui_live).

Locust renders an ``extended_tables`` structure as a sortable table and fills it with the
``extended_stats`` rows it polls with ``/stats/requests`` (every 2 s while a test runs). Latency
columns hold ``p50 / p90 / p99`` in ms, so a row stays readable at a glance; the numbers
themselves are in ``/tokenswarm/summary.json``.
"""

from __future__ import annotations

from typing import Any

TAB_KEY = "llm"
LATENCY = (("ttft_ms", "TTFT"), ("itl_ms", "ITL"), ("tpot_ms", "TPOT"), ("e2e_ms", "E2E"))
COLUMNS: list[dict[str, Any]] = [
    {"key": "stage", "title": "Stage"},
    {"key": "users", "title": "Users"},
    {"key": "state", "title": "State"},
    {"key": "ok", "title": "# Requests"},
    {"key": "failed", "title": "# Fails"},
    {"key": "in_flight", "title": "In flight"},
    {"key": "output_tps", "title": "Output tok/s", "round": 1},
    *({"key": key, "title": f"{title} ms p50 / p90 / p99"} for key, title in LATENCY),
    {"key": "errors", "title": "Errors by class"},
]


def _latency(metrics: dict[str, Any]) -> str:
    if not metrics.get("count"):
        return "-"
    return " / ".join(_ms(metrics[p]) for p in ("p50", "p90", "p99"))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}" if value < 1000 else f"{value:.0f}"


def stage_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the LLM table, one per stage in start order."""
    summary = doc.get("summary")
    if summary is None:
        return []
    live = {stage["index"]: stage for stage in doc["stages"]}
    rows = []
    for block in summary["stages"]:
        stage = live.get(block["index"], {})
        requests = block["requests"]
        measured = block["window"]["seconds"] > 0
        rows.append(
            {
                "stage": f"{block['index']} {block['name']}",
                "users": block["users"],
                "state": stage.get("state", "done"),
                "ok": requests["ok"],
                "failed": requests["failed"],
                "in_flight": stage.get("in_flight", 0),
                "output_tps": block["throughput"]["output_tps"] if measured else None,
                **{key: _latency(block["metrics"][key]) for key, _ in LATENCY},
                "errors": ", ".join(f"{k}: {n}" for k, n in block["errors"].items()) or "-",
            }
        )
    return rows
