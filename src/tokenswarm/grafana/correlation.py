"""The *Correlation* dashboard: load-side numbers against GPU and engine telemetry.

InfluxQL cannot join measurements, so each side is its own query on the same time grid
(``GROUP BY time($__interval)``), drawn in panels stacked on one time axis with a shared
crosshair (field overrides for a second y axis do not validate against the published
dashboard schema). Totals over GPUs and
engines are subqueries: the mean per device per interval, summed. Live tokens per joule is
output tok/s divided by total GPU power, computed by Grafana transformations from the two
series (W = J/s, so (tok/s) / (J/s) = tok/J).
"""

from __future__ import annotations

from typing import Any

from tokenswarm.grafana import load
from tokenswarm.grafana.panels import (
    Query,
    dashboard,
    dashboard_links,
    query_variable,
    table,
    timeseries,
    where,
)
from tokenswarm.influx import schema

UID = "tokenswarm-correlation"
BY_TIME = "GROUP BY time($__interval) fill(none)"
OUTPUT = "output tok/s"
POWER = "GPU power"
MEASURED_OK = "\"stage\" != 'warmup' AND \"status\" = 'ok'"
STEADY = '"rps" > 0'  # rps counts measured requests only: 0 during ramp and warm-up


def total(measurement: str, inner: str, per: str, name: str) -> Query:
    """``inner`` (one value per device per interval, AS "v") summed over devices."""
    sql = (
        f'SELECT sum("v") AS "{name}" FROM (SELECT {inner} AS "v" FROM "{measurement}" '
        f"{where('run_id', 'host')} GROUP BY time($__interval), {per}) "
        f"WHERE $timeFilter {BY_TIME}"
    )
    return Query(sql, name)


def gpu_power() -> Query:
    return total(schema.GPU.name, 'mean("power_w")', '"host", "gpu"', POWER)


def output_tps() -> Query:
    return load.load_query(f'mean("output_tps") AS "{OUTPUT}"')


def ttft_p99() -> Query:
    return load.load_query('max("ttft_p99_ms") AS "TTFT p99"')


def variables() -> list[dict[str, Any]]:
    return [
        *load.variables(),
        query_variable(
            "host",
            "GPU host",
            f'SHOW TAG VALUES FROM "{schema.GPU.name}" WITH KEY = "host" '
            'WHERE "run_id" =~ /^$run_id$/',
            multi=True,
        ),
    ]


def stage_table() -> list[Query]:
    requests = (
        'SELECT count("users") AS "requests", percentile("ttft_ms", 50) AS "TTFT p50", '
        'percentile("ttft_ms", 99) AS "TTFT p99", percentile("tpot_ms", 99) AS "TPOT p99", '
        'percentile("e2e_ms", 99) AS "E2E p99", mean("output_tokens") AS "output tokens" '
        f'FROM "{schema.REQUEST.name}" {where("run_id", "scenario", extra=MEASURED_OK)} '
        'GROUP BY "stage"'
    )
    steady = (
        'SELECT max("users") AS "users", mean("rps") AS "requests/s", mean("output_tps") AS '
        '"output tok/s", mean("total_tps") AS "total tok/s", max("itl_p99_ms") AS "ITL p99 '
        f'(worst second)", sum("errors") AS "errors" FROM "{schema.LOAD.name}" '
        f"{where('run_id', 'scenario', extra=STEADY)} "
        'GROUP BY "stage"'
    )
    return [Query(requests, table=True), Query(steady, table=True)]


def build() -> dict[str, Any]:
    queue = total(schema.ENGINE.name, 'mean("requests_waiting")', '"host", "engine"', "queued")
    util = Query(
        f'SELECT mean("util_pct") AS "GPU util" FROM "{schema.GPU.name}" '
        f"{where('run_id', 'host')} {BY_TIME}",
        "GPU util",
    )
    engine_rate = total(
        schema.ENGINE.name,
        'non_negative_derivative(max("generation_tokens_total"), 1s)',
        '"host", "engine"',
        "engine generation tok/s",
    )
    panels = [
        timeseries(
            "Output tok/s",
            [output_tps()],
            (0, 0, 24, 6),
            schema.TOK_S,
            "client-side output token rate (compare with the power below)",
        ),
        timeseries(
            "Total GPU power",
            [gpu_power()],
            (0, 6, 24, 6),
            "watt",
            "summed board power of the run's GPUs",
        ),
        timeseries(
            "Live tokens per joule",
            [output_tps(), gpu_power()],
            (0, 12, 12, 8),
            "suffix: tok/J",
            "output tok/s / total GPU power, per interval",
            transformations=[
                {"id": "joinByField", "options": {"byField": "Time", "mode": "outer"}},
                {
                    "id": "calculateField",
                    "options": {
                        "mode": "binary",
                        "alias": "tokens/J",
                        "replaceFields": True,
                        "binary": {"left": OUTPUT, "operator": "/", "right": POWER},
                    },
                },
            ],
        ),
        timeseries(
            "Client vs engine token rate",
            [output_tps(), engine_rate],
            (12, 12, 12, 8),
            schema.TOK_S,
            "what the client received against what the engine says it generated",
        ),
        timeseries(
            "TTFT p99",
            [ttft_p99()],
            (0, 20, 24, 6),
            "ms",
            "per-second p99 (largest per interval); GPU utilisation and the engine "
            "queue below on the same time axis",
        ),
        timeseries("GPU utilisation (mean over GPUs)", [util], (0, 26, 12, 6), "percent"),
        timeseries(
            "Engine queue depth",
            [queue],
            (12, 26, 12, 6),
            "short",
            "requests waiting for a batch slot, summed over engines",
        ),
        table(
            "Per stage",
            stage_table(),
            (0, 32, 24, 8),
            "none",
            "exact percentiles of each stage's measured requests (warm-up excluded) "
            "and means over the stage's seconds with completed requests",
        ),
    ]
    panels[-1]["transformations"] = [{"id": "merge", "options": {}}]
    return dashboard(
        UID,
        "tokenswarm: Correlation",
        "Load against GPU power, utilisation and the engine queue, per stage",
        panels,
        variables(),
        load.stage_annotations(),
        dashboard_links(),
    )
