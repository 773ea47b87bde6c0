"""The *GPU telemetry* dashboard: every accelerator, the hosts and the engine, per series.

GPU series are grouped by host and device index (``$tag_host/$tag_gpu``). The load generator's
own CPU is here too: a load process near one full core reads tokens late, which inflates ITL
and TTFT long before Locust warns (DESIGN.md section 5), so a saturated client invalidates the
timings on the other dashboard.
"""

from __future__ import annotations

from typing import Any

from tokenswarm.grafana.load import stage_annotations
from tokenswarm.grafana.panels import (
    Query,
    dashboard,
    dashboard_links,
    datasource_variable,
    query_variable,
    table,
    timeseries,
    where,
)
from tokenswarm.influx import schema

UID = "tokenswarm-gpu"
GPU = schema.GPU.name
PER_GPU = 'GROUP BY time($__interval), "host", "gpu" fill(none)'
DEVICE = "$tag_host/$tag_gpu $col"


def gpu_query(select: str) -> Query:
    return Query(f'SELECT {select} FROM "{GPU}" {where("run_id", "host", "gpu")} {PER_GPU}', DEVICE)


def host_query(measurement: str, select: str, group: str, alias: str, extra: str = "") -> Query:
    return Query(
        f'SELECT {select} FROM "{measurement}" {where("run_id", extra=extra)} '
        f"GROUP BY time($__interval), {group} fill(none)",
        alias,
    )


def engine_query(select: str) -> Query:
    return Query(
        f'SELECT {select} FROM "{schema.ENGINE.name}" {where("run_id", "host")} '
        'GROUP BY time($__interval), "host", "engine" fill(none)',
        "$tag_host $tag_engine $col",
    )


def variables() -> list[dict[str, Any]]:
    return [
        datasource_variable(),
        query_variable(
            "run_id",
            "Run",
            f'SHOW TAG VALUES FROM "{GPU}" WITH KEY = "run_id"',
            multi=False,
            sort=2,
        ),
        query_variable(
            "host",
            "GPU host",
            f'SHOW TAG VALUES FROM "{GPU}" WITH KEY = "host" WHERE "run_id" =~ /^$run_id$/',
            multi=True,
        ),
        query_variable(
            "gpu",
            "GPU",
            f'SHOW TAG VALUES FROM "{GPU}" WITH KEY = "gpu" WHERE '
            '"run_id" =~ /^$run_id$/ AND "host" =~ /^$host$/',
            multi=True,
            sort=3,
        ),
    ]


def build() -> dict[str, Any]:
    info = ", ".join(
        f'last("{f.name}") AS "{f.name}"' for f in schema.GPU.fields if f.kind == "str"
    )
    panels = [
        timeseries(
            "GPU utilisation and fan",
            [gpu_query('mean("util_pct") AS "util", mean("fan_pct") AS "fan"')],
            (0, 0, 12, 8),
            "percent",
            "engine busy share reported by the GPU tool; fan speed where the tool reports one",
        ),
        timeseries(
            "GPU power",
            [
                gpu_query(
                    'mean("power_w") AS "power", max("power_limit_w") AS "limit", '
                    'non_negative_derivative(max("energy_j"), 1s) AS "from energy counter"'
                )
            ],
            (12, 0, 12, 8),
            "watt",
            "board power, its cap, and the average power derived "
            "from the energy counter where the tool reports one",
        ),
        timeseries(
            "GPU memory",
            [
                gpu_query(
                    'mean("vram_used_pct") AS "VRAM used", mean("mem_busy_pct") AS "memory busy"'
                )
            ],
            (0, 8, 12, 8),
            "percent",
            "VRAM allocated and memory-controller activity",
        ),
        timeseries(
            "VRAM",
            [gpu_query('mean("vram_used_bytes") AS "used", max("vram_total_bytes") AS "total"')],
            (12, 8, 12, 8),
            "bytes",
        ),
        timeseries(
            "GPU temperatures",
            [
                gpu_query(
                    'max("temp_edge_c") AS "edge", max("temp_junction_c") AS "junction", '
                    'max("temp_mem_c") AS "memory", max("temp_core_c") AS "core"'
                )
            ],
            (0, 16, 12, 8),
            "celsius",
        ),
        timeseries(
            "GPU clocks",
            [gpu_query('mean("sclk_mhz") AS "sclk", mean("mclk_mhz") AS "mclk"')],
            (12, 16, 12, 8),
            "rotmhz",
        ),
        timeseries(
            "Host CPU",
            [
                host_query(
                    schema.HOST.name,
                    'mean("cpu_pct") AS "cpu"',
                    '"host", "role"',
                    "$tag_role $tag_host $col",
                )
            ],
            (0, 24, 12, 8),
            "percent",
            "all cores of the GPU hosts (role gpu) and of the load generator hosts (role loadgen)",
        ),
        timeseries(
            "Load generator processes CPU",
            [
                host_query(
                    schema.HOST.name,
                    'max("process_cpu_pct") AS "cpu"',
                    '"host", "worker"',
                    "$tag_worker",
                    extra="\"role\" = 'loadgen'",
                )
            ],
            (12, 24, 12, 8),
            "percent",
            "CPU of each load process, 100 % = one core. Timing "
            "error grows past ~60 %: add workers before trusting ITL/TTFT there",
        ),
        timeseries(
            "Host memory",
            [
                host_query(
                    schema.HOST.name,
                    'mean("mem_used_bytes") AS "used", max("mem_total_bytes") AS "total"',
                    '"host", "role"',
                    "$tag_role $tag_host $col",
                )
            ],
            (0, 32, 12, 8),
            "bytes",
        ),
        timeseries(
            "Host load average",
            [
                host_query(
                    schema.HOST.name,
                    'mean("load1") AS "load1"',
                    '"host", "role"',
                    "$tag_role $tag_host $col",
                )
            ],
            (12, 32, 12, 8),
            "short",
        ),
        timeseries(
            "Engine batch and queue",
            [
                engine_query(
                    'mean("requests_running") AS "running", mean("requests_waiting") AS "waiting"'
                )
            ],
            (0, 40, 12, 8),
            "short",
            "sequences in the running batch and requests queued",
        ),
        timeseries(
            "Engine KV cache",
            [engine_query('mean("kv_cache_usage_pct") AS "KV cache"')],
            (12, 40, 12, 8),
            "percent",
        ),
        timeseries(
            "Engine token rates",
            [
                engine_query(
                    'non_negative_derivative(max("prompt_tokens_total"), 1s) AS "prompt", '
                    'non_negative_derivative(max("generation_tokens_total"), 1s) AS "generation"'
                )
            ],
            (0, 48, 12, 8),
            schema.TOK_S,
            "from the engine's own token counters",
        ),
        timeseries(
            "Telemetry collectors",
            [
                host_query(
                    schema.GPU_COLLECTOR.name,
                    'min("up") AS "up", max("duration_s") AS "duration", '
                    'max("devices") AS "devices", sum("parse_warnings") AS "parse warnings"',
                    '"host", "tool"',
                    "$tag_host $tag_tool $col",
                    extra='"host" =~ /^$host$/',
                )
            ],
            (12, 48, 12, 8),
            "short",
            "up = 0 marks a failing GPU tool; duration in seconds",
        ),
        table(
            "GPU inventory",
            [
                Query(
                    f'SELECT {info}, last("vram_total_bytes") AS "vram_total_bytes", '
                    f'last("power_limit_w") AS "power_limit_w" FROM "{GPU}" '
                    f'{where("run_id", "host", "gpu")} GROUP BY "host", "gpu", "model", "uuid", '
                    '"tool", "vendor"',
                    table=True,
                )
            ],
            (0, 56, 24, 8),
            "none",
            "identity of every device in the run",
        ),
        timeseries(
            "Load generator event-loop lag p99",
            [
                host_query(
                    schema.HOST.name,
                    'max("loop_lag_p99_ms") AS "lag p99"',
                    '"host", "worker"',
                    "$tag_worker",
                    extra="\"role\" = 'loadgen'",
                )
            ],
            (0, 64, 24, 8),
            "ms",
            "how late each load process's event loop ran (p99 over the last second): a stamp "
            "taken in user space can be this late; above ~1 ms add workers",
        ),
    ]
    return dashboard(
        UID,
        "tokenswarm: GPU telemetry",
        "Per-GPU utilisation, memory, power, temperatures and clocks; host CPU of "
        "GPU hosts and load generators; the engine's queue",
        panels,
        variables(),
        stage_annotations(),
        dashboard_links(),
    )
