"""The one registry of what tokenswarm writes to InfluxDB: measurements, tags, fields, units.

Writers (the load generator's sink, the telemetry agent) take measurement and field names from
here, the Grafana dashboards query only what is registered here, and tests hold both to it
(DESIGN.md section 4). Field names carry their unit; ``unit`` is the Grafana unit id used by the
dashboards (``ms``, ``percent``, ``watt``...), so a panel's axis always matches the field.

Tags are low-cardinality only (never a request id): each distinct tag set is a series that
InfluxDB keeps in memory. Strings that change on driver upgrades (serial, driver version) are
string fields, not tags, so they never split a GPU's series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["float", "int", "str"]


@dataclass(frozen=True)
class Field:
    name: str
    unit: str  # Grafana unit id
    kind: Kind
    doc: str


@dataclass(frozen=True)
class Measurement:
    name: str
    tags: tuple[str, ...]
    fields: tuple[Field, ...]
    writer: str
    doc: str

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(f"{self.name} has no field {name!r}")


def _f(name: str, unit: str, doc: str, kind: Kind = "float") -> Field:
    return Field(name, unit, kind, doc)


TOK_S = "suffix: tok/s"
LATENCIES = ("ttft", "itl", "tpot", "e2e")
LOAD_PERCENTILES = (50, 90, 99)

REQUEST = Measurement(
    "tokenswarm_request",
    ("run_id", "scenario", "stage", "engine", "model", "endpoint", "status", "worker"),
    (
        _f("ttft_ms", "ms", "time to first token chunk"),
        _f("tpot_ms", "ms", "(last chunk - first chunk) / (output tokens - 1)"),
        _f("itl_mean_ms", "ms", "mean inter-token latency of the request"),
        _f("itl_max_ms", "ms", "largest inter-token latency of the request"),
        _f("e2e_ms", "ms", "last token chunk - send"),
        _f("input_tokens", "short", "prompt tokens", "int"),
        _f("output_tokens", "short", "output tokens", "int"),
        _f("users", "short", "users running on this load process at completion", "int"),
    ),
    "each load process, one point per finished request (stamped at completion; stage "
    "'warmup' for warm-up requests; status 'ok' or the error class)",
    "one request",
)

LOAD = Measurement(
    "tokenswarm_load",
    ("run_id", "scenario", "stage"),
    (
        _f("users", "short", "users running (all workers)", "int"),
        _f("in_flight", "short", "requests sent and not finished", "int"),
        _f("rps", "reqps", "measured requests completed ok in the second"),
        _f("output_tps", TOK_S, "output tokens that arrived in the second"),
        _f("total_tps", TOK_S, "output_tps + input tokens of measured requests started"),
        _f("errors", "short", "failed measured requests reported in the second", "int"),
        *(
            _f(
                f"{metric}_p{q}_ms",
                "ms",
                f"{metric.upper()} p{q} of the requests reported in the second",
            )
            for metric in LATENCIES
            for q in LOAD_PERCENTILES
        ),
    ),
    "the master (or the single local process), one point per second stamped at the start of "
    "the second it describes",
    "the whole load, second by second",
)

EVENT = Measurement(
    "tokenswarm_event",
    ("run_id", "kind"),
    (
        _f("text", "string", "annotation text", "str"),
        _f("stage", "string", "stage name", "str"),
        _f("users", "short", "target users of the stage", "int"),
    ),
    "the master: kind run_start, stage_start, stage_measure (warm-up over), stage_stop, run_stop",
    "Grafana annotations",
)

GPU = Measurement(
    "gpu",
    ("run_id", "host", "gpu", "uuid", "model", "tool", "vendor"),
    (
        _f("util_pct", "percent", "engine busy: GPU/DCU/HCU use, gfx_activity, utilization.gpu"),
        _f("mem_busy_pct", "percent", "memory-controller activity"),
        _f("vram_used_pct", "percent", "VRAM allocated"),
        _f("vram_used_bytes", "bytes", "VRAM allocated", "int"),
        _f("vram_total_bytes", "bytes", "VRAM size", "int"),
        _f("power_w", "watt", "board power"),
        _f("power_limit_w", "watt", "power cap"),
        _f("energy_j", "joule", "energy counter since driver load"),
        _f("temp_edge_c", "celsius", "edge temperature"),
        _f("temp_junction_c", "celsius", "junction (hotspot) temperature"),
        _f("temp_mem_c", "celsius", "memory (HBM) temperature"),
        _f("temp_core_c", "celsius", "core temperature (Hygon)"),
        _f("sclk_mhz", "rotmhz", "shader/SM clock"),
        _f("mclk_mhz", "rotmhz", "memory clock"),
        _f("fan_pct", "percent", "fan speed"),
        _f("pci_bus", "string", "PCI address", "str"),
        _f("serial", "string", "board serial number", "str"),
        _f("driver_version", "string", "driver version", "str"),
        _f("device_id", "string", "PCI device id", "str"),
        _f("perf_level", "string", "performance level (rocm-smi)", "str"),
        _f("gfx_arch", "string", "GFX architecture (rocm-smi)", "str"),
        _f("mode", "string", "compute partition mode (amd-smi table)", "str"),
    ),
    "telemetry agent, one point per device per poll",
    "one accelerator",
)

GPU_COLLECTOR = Measurement(
    "gpu_collector",
    ("run_id", "host", "tool"),
    (
        _f("up", "short", "1 when the poll succeeded, 0 when the tool failed", "int"),
        _f("duration_s", "s", "tool run time"),
        _f("devices", "short", "devices in the answer", "int"),
        _f("parse_warnings", "short", "values the parser could not read", "int"),
    ),
    "telemetry agent, one point per source per poll",
    "the agent's own health",
)

HOST = Measurement(
    "host",
    ("run_id", "host", "role", "worker"),
    (
        _f("cpu_pct", "percent", "host CPU busy, all cores"),
        _f("mem_used_bytes", "bytes", "host memory in use (total - available)", "int"),
        _f("mem_total_bytes", "bytes", "host memory", "int"),
        _f("load1", "short", "1-minute load average"),
        _f("process_cpu_pct", "percent", "CPU of one load process (100 = one core busy)"),
        _f("loop_lag_p99_ms", "ms", "event-loop lag p99 of one load process since its last point"),
    ),
    "telemetry agent (role gpu) and every load process, once a second (role loadgen; tag "
    "worker names the process)",
    "hosts and load generator processes",
)

ENGINE = Measurement(
    "engine",
    ("run_id", "host", "engine"),
    (
        _f("requests_running", "short", "sequences in the running batch", "int"),
        _f("requests_waiting", "short", "requests queued for a batch slot", "int"),
        _f("kv_cache_usage_pct", "percent", "KV cache in use"),
        _f("prompt_tokens_total", "short", "prompt tokens processed (counter)", "int"),
        _f("generation_tokens_total", "short", "tokens generated (counter)", "int"),
    ),
    "telemetry agent scraping the engine's Prometheus /metrics",
    "the inference engine's queue and cache",
)

MEASUREMENTS: dict[str, Measurement] = {
    m.name: m for m in (REQUEST, LOAD, EVENT, GPU, GPU_COLLECTOR, HOST, ENGINE)
}


READABLE_UNITS = {
    "percent": "%",
    "watt": "W",
    "joule": "J",
    "celsius": "°C",
    "rotmhz": "MHz",
    "reqps": "1/s",
    "short": "count",
    TOK_S: "tok/s",
}


def markdown_table() -> str:
    """The schema as a Markdown table (README, grafana/README.md; a test keeps them equal)."""
    lines = ["| measurement | tags | field | unit | meaning |", "|---|---|---|---|---|"]
    for m in MEASUREMENTS.values():
        for i, f in enumerate(m.fields):
            head = f"| `{m.name}` | {', '.join(m.tags)} " if i == 0 else "| | "
            unit = READABLE_UNITS.get(f.unit, f.unit)
            lines.append(f"{head}| `{f.name}` | {unit} | {f.doc} |")
    return "\n".join(lines)
