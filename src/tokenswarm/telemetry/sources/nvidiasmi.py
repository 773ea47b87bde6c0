"""nvidia-smi: a ``--query-gpu`` CSV per poll, ``-q -x`` XML as the fallback.

The poll query keeps its header (``--format=csv,nounits``, no ``noheader``) so columns are
mapped by name, whatever the driver puts in them; a headerless CSV is accepted only when it
has exactly the poll query's columns and a numeric index. Newer drivers print ``[N/A]``, older
ones ``N/A``/``[Not Supported]``; all of them leave the field out. XML schemas v10-v13 differ
in where power lives (``power_readings`` vs ``gpu_power_readings``, ``instant_power_draw``).
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET

from tokenswarm.telemetry.sample import GpuSample
from tokenswarm.telemetry.sources.base import ParseError, ParseResult, ToolSpec, derived
from tokenswarm.telemetry.sources.units import (
    clean_serial,
    clean_str,
    norm_pci_bus,
    to_bytes,
    to_float,
)

NAME = "nvidia-smi"
# The poll query. ``power.draw.instant`` (drivers >= ~550) is the reading to prefer
# (TELEMETRY-FORMATS pitfall 6); older drivers refuse the whole query for it ("not a valid
# field to query"), so QUERY_REDUCED without it is the fallback the agent remembers.
QUERY_REDUCED = ("index", "uuid", "serial", "pci.bus_id", "name", "driver_version",
                 "utilization.gpu", "utilization.memory", "memory.total", "memory.used",
                 "power.draw", "power.limit", "temperature.gpu", "temperature.memory",
                 "clocks.sm", "clocks.mem", "fan.speed")
QUERY = (*QUERY_REDUCED, "power.draw.instant")
# field -> query names in order of preference (aliases across drivers): the first one with a
# number wins, wherever its column stands.
CSV_PREFERENCE: dict[str, tuple[str, ...]] = {
    "util_pct": ("utilization.gpu",),
    "mem_busy_pct": ("utilization.memory",),
    "power_w": ("power.draw.instant", "power.draw", "power.draw.average"),
    "power_limit_w": ("power.limit", "enforced.power.limit"),
    "temp_edge_c": ("temperature.gpu",),
    "temp_mem_c": ("temperature.memory",),
    "sclk_mhz": ("clocks.sm", "clocks.current.sm"),
    "mclk_mhz": ("clocks.mem", "clocks.current.memory"),
    "fan_pct": ("fan.speed",),
}
CSV_FIELDS: dict[str, str] = {name: field for field, names in CSV_PREFERENCE.items()
                              for name in names}
CSV_BYTES = {"memory.total": "vram_total_bytes", "memory.used": "vram_used_bytes"}
CSV_IGNORED = re.compile(
    r"^(?:pstate|memory\.(?:free|reserved)|clocks\.(?:current\.)?(?:graphics|gr|video)"
    r"|power\.(?:min|max|default)_limit|vbios_version|pcie\..*|count|timestamp)$")


def _csv_sample(row: dict[str, str], position: int, warnings: list[str]) -> GpuSample:
    sample = GpuSample(tool=NAME, vendor="nvidia", index=clean_str(row.get("index")))
    sample.index = sample.index or str(position)
    for field, names in CSV_PREFERENCE.items():
        number = next((n for n in map(to_float, (row.get(name) for name in names))
                       if n is not None), None)
        if number is not None:
            sample.fields[field] = number
    for name, cell in row.items():
        if name in CSV_FIELDS:
            continue
        if name in CSV_BYTES:
            number_bytes = to_bytes(cell, "mib")
            if number_bytes is not None:
                sample.fields[CSV_BYTES[name]] = number_bytes
        elif name not in {"index", "uuid", "gpu_uuid", "serial", "pci.bus_id", "name",
                          "driver_version"} and not CSV_IGNORED.match(name):
            warnings.append(f"{NAME}: unknown query column {name!r} ignored")
    serial = clean_serial(row.get("serial"))
    sample.pci_bus = norm_pci_bus(row.get("pci.bus_id"))
    sample.uuid = clean_str(row.get("uuid") or row.get("gpu_uuid")) or serial or sample.pci_bus
    sample.model = clean_str(row.get("name"))
    driver = clean_str(row.get("driver_version"))
    for key, value in (("serial", serial), ("driver_version", driver)):
        if value:
            sample.info[key] = value
    return sample


@derived
def parse_csv(text: str) -> ParseResult:
    """``--query-gpu`` CSV with header (``name [unit]`` columns) or in :data:`QUERY` order."""
    reader = csv.reader(io.StringIO(text.strip()), skipinitialspace=True)  # ", " separators
    rows = [[cell.strip() for cell in row] for row in reader]
    rows = [row for row in rows if any(row)]
    result = ParseResult()
    if not rows:
        result.warnings.append(f"{NAME}: empty CSV output")
        return result
    header = [re.sub(r"\s*\[.*\]$", "", name) for name in rows[0]]
    if any(name in CSV_FIELDS or name in ("name", "uuid", "index") for name in header):
        body = rows[1:]
    elif len(rows[0]) in (len(QUERY), len(QUERY_REDUCED)) and rows[0][0].isdigit():
        header, body = list(QUERY if len(rows[0]) == len(QUERY) else QUERY_REDUCED), rows
    else:
        result.warnings.append(
            f"{NAME}: headerless CSV with {len(rows[0])} columns does not match the poll query;"
            " add a header (drop 'noheader') to parse it")
        return result
    for position, row in enumerate(body):
        cells = dict(zip(header, row, strict=False))
        result.samples.append(_csv_sample(cells, position, result.warnings))
    result.version = next((s.info["driver_version"] for s in result.samples
                           if "driver_version" in s.info), None)
    return result


def _text(node: ET.Element, path: str) -> str | None:
    found = node.find(path)
    return None if found is None or found.text is None else found.text.strip()


def _first(node: ET.Element, *paths: str) -> float | None:
    """The first path that holds a number (``instant_power_draw`` before ``power_draw``...)."""
    for path in paths:
        number = to_float(_text(node, path))
        if number is not None:
            return number
    return None


XML_FIELDS: list[tuple[str, tuple[str, ...]]] = [
    ("util_pct", ("utilization/gpu_util",)),
    ("mem_busy_pct", ("utilization/memory_util",)),
    ("power_w", ("gpu_power_readings/instant_power_draw", "gpu_power_readings/power_draw",
                 "gpu_power_readings/average_power_draw", "power_readings/power_draw")),
    ("power_limit_w", ("gpu_power_readings/current_power_limit",
                       "power_readings/enforced_power_limit", "power_readings/power_limit")),
    ("temp_edge_c", ("temperature/gpu_temp",)),
    ("temp_mem_c", ("temperature/memory_temp",)),
    ("sclk_mhz", ("clocks/sm_clock",)),
    ("mclk_mhz", ("clocks/mem_clock",)),
    ("fan_pct", ("fan_speed",)),
]


@derived
def parse_xml(text: str) -> ParseResult:
    """``nvidia-smi -q -x``; the index is the document order (``minor_number`` is not it)."""
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise ParseError(f"{NAME}: invalid XML ({exc})") from exc
    if root.tag != "nvidia_smi_log":
        raise ParseError(f"{NAME}: XML root is <{root.tag}>, expected <nvidia_smi_log>")
    driver = clean_str(_text(root, "driver_version"))
    result = ParseResult(version=driver or None)
    for position, gpu in enumerate(root.findall("gpu")):
        sample = GpuSample(tool=NAME, vendor="nvidia", index=str(position))
        for field, paths in XML_FIELDS:
            number = _first(gpu, *paths)
            if number is not None:
                sample.fields[field] = number
        for field, path in (("vram_total_bytes", "fb_memory_usage/total"),
                            ("vram_used_bytes", "fb_memory_usage/used")):
            number_bytes = to_bytes(_text(gpu, path), "mib")
            if number_bytes is not None:
                sample.fields[field] = number_bytes
        serial = clean_serial(_text(gpu, "serial"))
        sample.pci_bus = norm_pci_bus(_text(gpu, "pci/pci_bus_id") or gpu.get("id"))
        sample.uuid = clean_str(_text(gpu, "uuid")) or serial or sample.pci_bus
        sample.model = clean_str(_text(gpu, "product_name"))
        for key, value in (("serial", serial), ("driver_version", driver)):
            if value:
                sample.info[key] = value
        result.samples.append(sample)
    if not result.samples:
        result.warnings.append(f"{NAME}: XML holds no <gpu> element")
    return result


@derived
def parse(text: str) -> ParseResult:
    """XML when it starts with ``<``, CSV otherwise."""
    return parse_xml(text) if text.lstrip().startswith("<") else parse_csv(text)


def parse_version(text: str) -> str | None:
    """``DRIVER version : 550.54`` (``--version``) or ``Driver Version: 535.54.03`` (table)."""
    match = re.search(r"driver version\s*:\s*(\S+)", text, re.IGNORECASE)
    return match.group(1) if match else None


SPEC = ToolSpec(
    name=NAME,
    vendor="nvidia",
    binaries=("nvidia-smi",),
    search_dirs=("/usr/bin", "/usr/local/nvidia/bin", "/usr/local/bin", "/usr/lib/wsl/lib"),
    json_args=(f"--query-gpu={','.join(QUERY)}", "--format=csv,nounits"),
    json_args_reduced=(f"--query-gpu={','.join(QUERY_REDUCED)}", "--format=csv,nounits"),
    text_args=("-q", "-x"),
    version_args=("--version",),
    parse_json=parse_csv,
    parse_text=parse_xml,
    parse=parse,
    parse_version=parse_version,
)
