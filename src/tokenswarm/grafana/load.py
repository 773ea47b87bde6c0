"""The *LLM load* dashboard: what the load generator measured, second by second.

Percentile panels read ``tokenswarm_load``, whose p50/p90/p99 fields come from the histograms
of every worker merged each second (exact, never averaged across workers). When the panel's
interval is longer than a second the largest per-second value is drawn (an upper envelope:
percentiles of different seconds cannot be combined exactly). The per-request panels read
``tokenswarm_request`` and include warm-up requests (tag ``stage = 'warmup'``).
"""

from __future__ import annotations

from typing import Any

from tokenswarm.grafana.panels import (
    Query,
    annotation,
    dashboard,
    dashboard_links,
    datasource_variable,
    query_variable,
    stat,
    timeseries,
    where,
)
from tokenswarm.influx import schema

UID = "tokenswarm-llm-load"
LOAD = schema.LOAD.name
REQUEST = schema.REQUEST.name
EVENT = schema.EVENT.name
BY_TIME = "GROUP BY time($__interval) fill(none)"
RUN = ("run_id", "scenario")
PCT_DOC = (
    "per-second percentiles of the measured requests reported in that second (histograms "
    "of all workers merged); over longer intervals the largest per-second value"
)


def load_query(select: str, alias: str = "$col") -> Query:
    return Query(f'SELECT {select} FROM "{LOAD}" {where(*RUN)} {BY_TIME}', alias)


def request_query(select: str, group: str, alias: str, extra: str = "") -> Query:
    return Query(f'SELECT {select} FROM "{REQUEST}" {where(*RUN, extra=extra)} {group}', alias)


def percentiles(metric: str) -> Query:
    """max() of the per-second p50/p90/p99 fields of ``metric`` (see module doc)."""
    cols = ", ".join(f'max("{metric}_p{q}_ms") AS "p{q}"' for q in schema.LOAD_PERCENTILES)
    return load_query(cols)


def variables() -> list[dict[str, Any]]:
    """datasource, run_id (newest first, one run) and scenario: shared by the dashboards."""
    return [
        datasource_variable(),
        query_variable(
            "run_id",
            "Run",
            f'SHOW TAG VALUES FROM "{LOAD}" WITH KEY = "run_id"',
            multi=False,
            sort=2,
        ),
        query_variable(
            "scenario",
            "Scenario",
            f'SHOW TAG VALUES FROM "{LOAD}" WITH KEY = "scenario" WHERE "run_id" =~ /^$run_id$/',
            multi=True,
        ),
    ]


def stage_annotations() -> list[dict[str, Any]]:
    sql = (
        f'SELECT "text", "kind", "stage", "users" FROM "{EVENT}" '
        'WHERE $timeFilter AND "run_id" =~ /^$run_id$/'
    )
    return [annotation("Run and stages", sql, "rgba(255, 152, 48, 1)")]


def build() -> dict[str, Any]:
    stats = [
        ("Users", 'max("users")', "short", "lastNotNull"),
        ("Requests/s", 'mean("rps")', "reqps", "lastNotNull"),
        ("Output tok/s", 'mean("output_tps")', schema.TOK_S, "lastNotNull"),
        ("TTFT p99", 'max("ttft_p99_ms")', "ms", "lastNotNull"),
        ("ITL p99", 'max("itl_p99_ms")', "ms", "lastNotNull"),
        ("Errors", 'sum("errors")', "short", "sum"),
    ]
    panels = [
        stat(title, load_query(select), (4 * i, 0, 4, 4), unit, calc)
        for i, (title, select, unit, calc) in enumerate(stats)
    ]
    panels += [
        timeseries(
            "Users and requests in flight",
            [load_query('max("users") AS "users", max("in_flight") AS "in flight"')],
            (0, 4, 12, 8),
            "short",
        ),
        timeseries(
            "Requests/s and errors",
            [load_query('mean("rps") AS "requests/s", sum("errors") AS "errors"')],
            (12, 4, 12, 8),
            "reqps",
            "rps: measured requests completed ok per second; errors: failed requests per interval",
        ),
        timeseries(
            "Throughput",
            [load_query('mean("output_tps") AS "output", mean("total_tps") AS "total"')],
            (0, 12, 12, 8),
            schema.TOK_S,
            "output: tokens that arrived in each second (token-time accounting); total: output "
            "plus the prompt tokens of requests started in it",
        ),
        timeseries("TTFT percentiles", [percentiles("ttft")], (12, 12, 12, 8), "ms", PCT_DOC),
        timeseries(
            "ITL percentiles",
            [percentiles("itl")],
            (0, 20, 12, 8),
            "ms",
            "inter-token latency, one sample per token. " + PCT_DOC,
        ),
        timeseries("TPOT percentiles", [percentiles("tpot")], (12, 20, 12, 8), "ms", PCT_DOC),
        timeseries("E2E latency percentiles", [percentiles("e2e")], (0, 28, 12, 8), "ms", PCT_DOC),
        timeseries(
            "Errors by class",
            [
                request_query(
                    'count("users")',
                    'GROUP BY time($__interval), "status" fill(none)',
                    "$tag_status",
                    extra="\"status\" != 'ok'",
                )
            ],
            (12, 28, 12, 8),
            "short",
            "failed requests per interval, by error class",
        ),
        timeseries(
            "TTFT per request",
            [
                request_query(
                    '"ttft_ms"',
                    'GROUP BY "stage" LIMIT 20000',
                    "$tag_stage",
                    extra="\"status\" = 'ok'",
                )
            ],
            (0, 36, 12, 8),
            "ms",
            "one point per request at its completion (the first 20 000 "
            "of the range: zoom in on long runs)",
            points=True,
        ),
        timeseries(
            "Per-request latency",
            [
                request_query(
                    'mean("e2e_ms") AS "e2e mean", mean("tpot_ms") AS "TPOT mean", '
                    'mean("itl_mean_ms") AS "ITL mean", max("itl_max_ms") AS "ITL max"',
                    BY_TIME,
                    "$col",
                )
            ],
            (12, 36, 12, 8),
            "ms",
            "means over the requests completed in each interval; ITL "
            "max is the longest stall any request saw",
        ),
        timeseries(
            "Tokens per request",
            [
                request_query(
                    'mean("input_tokens") AS "input", mean("output_tokens") AS "output"',
                    BY_TIME,
                    "$col",
                )
            ],
            (0, 44, 12, 8),
            "short",
        ),
        timeseries(
            "Requests/s by worker",
            [
                request_query(
                    'count("users") * 1000 / $__interval_ms',
                    'GROUP BY time($__interval), "worker" fill(none)',
                    "$tag_worker",
                )
            ],
            (12, 44, 12, 8),
            "reqps",
            "completed requests per load process: an uneven split points at a saturated worker",
        ),
    ]
    return dashboard(
        UID,
        "tokenswarm: LLM load",
        "Users, throughput, TTFT/ITL/TPOT/E2E percentiles and errors of a tokenswarm run",
        panels,
        variables(),
        stage_annotations(),
        dashboard_links(),
    )
