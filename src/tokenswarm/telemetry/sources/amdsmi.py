"""amd-smi (ROCm 6.1+): ``amd-smi metric --json`` per poll, ``amd-smi static --json`` rarely.

``metric`` has no identity and no power limit: serial (the ``uuid`` tag), PCI bus, market name
(the ``model`` tag), driver version and the socket power limit live in ``static`` (sections
``asic``, ``bus``, ``board``, ``limit``, ``driver``). The agent runs ``static`` at the first poll
and rarely after; :func:`merge_static` (pure) joins its last output into each poll's samples
by the ``gpu`` index.

Shape drift (TELEMETRY-FORMATS.md 2.3): ROCm 6.x prints a top-level list, AMDSMI 26.x wraps it
as ``{"gpu_data": [...]}``; a leaf is ``{"value", "unit"}``, a bare number (old builds) or
``"N/A"``, and whole sections may be ``"N/A"``. Units come from the leaf, so MB/uJ/mW are
scaled right whatever the build prints. The text fallback (``amd-smi metric``) is the same tree
written as indented ``KEY: value`` lines and goes through the same mapping.
"""

from __future__ import annotations

import json
import re

from tokenswarm.telemetry.sample import GpuSample
from tokenswarm.telemetry.sources.base import ParseError, ParseResult, ToolSpec, derived
from tokenswarm.telemetry.sources.jsonfix import load_lenient
from tokenswarm.telemetry.sources.units import (
    CLOCK_UNITS,
    ENERGY_UNITS,
    POWER_UNITS,
    clean_serial,
    clean_str,
    is_na,
    norm_pci_bus,
    scaled,
    to_bytes,
    to_float,
)

NAME = "amd-smi"
# (path, field, unit table, default unit); the first present path of a field wins.
PATHS: list[tuple[tuple[str, ...], str, dict[str, float] | None, str]] = [
    (("usage", "gfx_activity"), "util_pct", None, ""),
    (("usage", "umc_activity"), "mem_busy_pct", None, ""),
    (("power", "socket_power"), "power_w", POWER_UNITS, "w"),
    (("power", "current_socket_power"), "power_w", POWER_UNITS, "w"),
    (("power", "average_socket_power"), "power_w", POWER_UNITS, "w"),
    (("limit", "socket_power"), "power_limit_w", POWER_UNITS, "w"),
    (("limit", "socket_power_limit"), "power_limit_w", POWER_UNITS, "w"),
    (("limit", "ppt0", "socket_power_limit"), "power_limit_w", POWER_UNITS, "w"),
    (("power", "power_limit"), "power_limit_w", POWER_UNITS, "w"),
    (("energy", "total_energy_consumption"), "energy_j", ENERGY_UNITS, "j"),
    (("temperature", "edge"), "temp_edge_c", None, ""),
    (("temperature", "hotspot"), "temp_junction_c", None, ""),
    (("temperature", "mem"), "temp_mem_c", None, ""),
    (("clock", "gfx_0", "clk"), "sclk_mhz", CLOCK_UNITS, "mhz"),
    (("clock", "mem_0", "clk"), "mclk_mhz", CLOCK_UNITS, "mhz"),
    (("fan", "usage"), "fan_pct", None, ""),
]
BYTE_PATHS = ((("mem_usage", "total_vram"), "vram_total_bytes"),
              (("mem_usage", "used_vram"), "vram_used_bytes"))
KNOWN_SECTIONS = {"gpu", "usage", "power", "limit", "energy", "temperature", "clock", "fan",
                  "mem_usage", "asic", "bus", "board", "uuid", "process_list", "pcie", "ecc",
                  "ecc_blocks", "voltage_curve", "overdrive", "mem_overdrive", "perf_level",
                  "xgmi_err", "throttle", "vram", "driver", "vbios", "ifwi", "partition",
                  "numa", "cache_info", "soc_pstate", "xgmi_plpd", "process_isolation"}


def _leaf(tree: object, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree


def _first(tree: object, *paths: tuple[str, ...]) -> object:
    """The first leaf that holds a value ("N/A" is no value: try the next path)."""
    return next((leaf for leaf in (_leaf(tree, p) for p in paths) if not is_na(leaf)), None)


def _value_unit(leaf: object) -> tuple[object, str]:
    if isinstance(leaf, dict):
        return leaf.get("value"), str(leaf.get("unit", ""))
    return leaf, ""


def gpu_sample(entry: dict[str, object], warnings: list[str]) -> GpuSample:
    """One ``{"gpu": 0, "usage": {...}, ...}`` entry -> GpuSample."""
    sample = GpuSample(tool=NAME, vendor="amd", index=str(entry.get("gpu", "")))
    for path, field, units, default in PATHS:
        value, unit = _value_unit(_leaf(entry, path))
        if field in sample.fields or is_na(value):
            continue
        text = f"{value} {unit}".strip()
        number = to_float(text) if units is None else scaled(text, units, default)
        if number is not None:
            sample.fields[field] = number
    for path, field in BYTE_PATHS:
        value, unit = _value_unit(_leaf(entry, path))
        number = to_bytes(f"{value} {unit}".strip(), "mb")  # amd-smi "MB" is MiB
        if number is not None:
            sample.fields[field] = number
    serial = clean_serial(_first(entry, ("asic", "asic_serial"), ("board", "product_serial")))
    sample.pci_bus = norm_pci_bus(_leaf(entry, ("bus", "bdf")))
    sample.uuid = clean_str(entry.get("uuid")) or serial or sample.pci_bus
    sample.model = clean_str(_first(entry, ("asic", "market_name"), ("board", "product_name")))
    if serial:
        sample.info["serial"] = serial
    driver = clean_str(_leaf(entry, ("driver", "version")))
    if driver:
        sample.info["driver_version"] = driver
    device_id = clean_str(_leaf(entry, ("asic", "device_id")))
    if device_id:
        sample.info["device_id"] = device_id
    unknown = sorted(set(entry) - KNOWN_SECTIONS)
    if unknown:
        warnings.append(f"{NAME}: unknown sections {unknown} ignored")
    return sample


def _entries(doc: object) -> list[dict[str, object]]:
    if isinstance(doc, dict) and "gpu_data" in doc:
        doc = doc["gpu_data"]
    if isinstance(doc, dict) and "gpu" in doc:
        doc = [doc]
    if not isinstance(doc, list) or not all(isinstance(e, dict) for e in doc):
        raise ParseError(f"{NAME}: expected a list of GPU objects or {{'gpu_data': [...]}}")
    return doc


def _load(text: str) -> tuple[object, list[str]]:
    """JSON, or JSON after a line of text (amd-smi prints warnings first); ParseError if not."""
    try:
        return json.loads(text), []
    except ValueError:
        return load_lenient(text, NAME)


@derived
def parse_json(text: str) -> ParseResult:
    """``amd-smi metric --json`` (also ``static``/``process``/``list``); ParseError if not JSON."""
    doc, notes = _load(text)
    result = ParseResult(warnings=notes)
    result.samples = [gpu_sample(entry, result.warnings) for entry in _entries(doc)]
    return result


STATIC_SECTIONS = ("asic", "bus", "board", "limit", "driver")


def merge_static(samples: list[GpuSample], static_text: str) -> list[str]:
    """Join ``amd-smi static --json`` into ``metric`` samples by gpu index (pure).

    Fills what the metric sample lacks: ``uuid`` (asic serial, else board serial, else PCI
    bus), ``model`` (market name), ``pci_bus``, ``power_limit_w``, and ``info`` strings (serial,
    device id, driver version). Returns warnings (unreadable static output, a gpu missing).
    """
    try:
        doc, _notes = _load(static_text)
        entries = {str(e.get("gpu", "")): e for e in _entries(doc)}
    except ParseError as exc:
        return [f"{NAME}: static output not understood: {exc}"]
    warnings: list[str] = []
    for sample in samples:
        entry = entries.get(sample.index)
        if entry is None:
            warnings.append(f"{NAME}: static output has no gpu {sample.index}")
            continue
        static = gpu_sample({"gpu": sample.index,
                             **{k: entry[k] for k in STATIC_SECTIONS if k in entry}}, [])
        sample.pci_bus = sample.pci_bus or static.pci_bus
        sample.uuid = sample.uuid or static.uuid
        sample.model = sample.model or static.model
        for name, value in static.fields.items():
            sample.fields.setdefault(name, value)
        for name, text in static.info.items():
            sample.info.setdefault(name, text)
    return warnings


_GPU_LINE = re.compile(r"^GPU:\s*(\d+)\s*$")
_KEY_LINE = re.compile(r"^(\s*)([A-Z0-9_]+):\s*(.*?)\s*$")


def text_tree(text: str) -> list[dict[str, object]]:
    """``GPU: 0`` / ``    POWER:`` / ``        SOCKET_POWER: 11 W`` -> JSON-like entries."""
    entries: list[dict[str, object]] = []
    stack: list[tuple[int, dict[str, object]]] = []
    for line in text.splitlines():
        gpu = _GPU_LINE.match(line.strip())
        if gpu:
            entries.append({"gpu": int(gpu.group(1))})
            stack = [(-1, entries[-1])]
            continue
        match = _KEY_LINE.match(line)
        if not match or not stack:
            continue
        indent, key, value = len(match.group(1)), match.group(2).lower(), match.group(3)
        while len(stack) > 1 and stack[-1][0] >= indent:
            stack.pop()
        if value:
            stack[-1][1][key] = value
        else:
            child: dict[str, object] = {}
            stack[-1][1][key] = child
            stack.append((indent, child))
    return entries


@derived
def parse_text(text: str) -> ParseResult:
    """``amd-smi metric`` text; the boxed default ``amd-smi`` table is not parsed (warning)."""
    result = ParseResult(version=parse_version(text))
    result.samples = [gpu_sample(entry, result.warnings) for entry in text_tree(text)]
    if not result.samples:
        result.warnings.append(f"{NAME}: no 'GPU: N' blocks found; run 'amd-smi metric'")
    return result


def parse(text: str) -> ParseResult:
    """JSON when the output starts with ``[``/``{`` (or has one a few lines down, after a
    warning line), text otherwise."""
    if text.lstrip().startswith(("[", "{")):
        return parse_json(text)
    if re.search(r"^\s*[\[{]", "\n".join(text.splitlines()[:5]), re.MULTILINE):
        try:
            return parse_json(text)
        except ParseError:
            pass
    return parse_text(text)


def parse_version(text: str) -> str | None:
    """``AMDSMI Tool: 24.6.2+...`` (``amd-smi version``) or the table title ``AMD-SMI 26.2.1``."""
    match = re.search(r"(?:AMDSMI Tool:|AMD-SMI)\s+(\S+?)(?:\+\S*)?\s", text + " ")
    return match.group(1) if match else None


SPEC = ToolSpec(
    name=NAME,
    vendor="amd",
    binaries=("amd-smi",),
    search_dirs=("/opt/rocm/bin", "/usr/local/bin", "/usr/bin"),
    json_args=("metric", "--json"),
    text_args=("metric",),
    version_args=("version",),
    static_args=("static", "--json"),
    merge_static=merge_static,
    parse_json=parse_json,
    parse_text=parse_text,
    parse=parse,
    parse_version=parse_version,
)
