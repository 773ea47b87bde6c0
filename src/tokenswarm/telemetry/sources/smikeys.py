"""Key -> field mapping for the rocm-smi family: AMD rocm-smi, DTK's rocm-smi and hy-smi.

hy-smi is a fork of rocm_smi.py, so both tools print the same kind of per-card dict
(``card0: {"Temperature (Sensor edge) (C)": "37.0", ...}``) with drifting key spellings:
``DCU use (%)``/``HCU use (%)``/``GPU use (%)``, ``vram ... (MiB)`` vs ``VRAM ... (B)``, ``(c)`` vs
``(C)``, ``sclk clock speed:`` with ``(1269Mhz)``. Matching is case-insensitive on the key with
its trailing ``:`` dropped, and the unit is read from the key where it is printed there.
Every key is either mapped, known-and-ignored, or reported once as a warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tokenswarm.telemetry.sample import GpuSample
from tokenswarm.telemetry.sources.units import (
    clean_serial,
    clean_str,
    is_na,
    norm_pci_bus,
    to_bytes,
    to_float,
)

Convert = Callable[[str, "re.Match[str]"], "float | int | None"]


def _num(value: str, _m: re.Match[str]) -> float | None:
    return to_float(value)


def _bytes(value: str, match: re.Match[str]) -> int | None:
    return to_bytes(value, match.group(1))


def _microjoules(value: str, _m: re.Match[str]) -> float | None:
    number = to_float(value)
    return None if number is None else number * 1e-6


# (key pattern, field, rank, converter): for a field the present key with the lowest rank wins.
# rocm-smi prefers the instantaneous socket power when a card has it (TELEMETRY-FORMATS 2.2).
FIELD_RULES: list[tuple[re.Pattern[str], str, int, Convert]] = [
    (re.compile(p), f, r, c) for p, f, r, c in (
        (r"^(?:gpu|dcu|hcu) use \(%\)$", "util_pct", 0, _num),
        (r"^(?:dcu|hcu) memory use \(%\)$", "vram_used_pct", 0, _num),
        (r"^gpu memory allocated \(vram%\)$", "vram_used_pct", 0, _num),
        (r"^gpu memory read/write activity \(%\)$", "mem_busy_pct", 0, _num),
        (r"^gpu memory use \(%\)$", "mem_busy_pct", 1, _num),
        (r"^memory activity$", "mem_busy_pct", 2, _num),
        (r"^vram total memory \((\w+)\)$", "vram_total_bytes", 0, _bytes),
        (r"^vram total used memory \((\w+)\)$", "vram_used_bytes", 0, _bytes),
        (r"^current socket graphics package power \(w\)$", "power_w", 0, _num),
        (r"^average graphics package power \(w\)$", "power_w", 1, _num),
        (r"^max graphics package power \(w\)$", "power_limit_w", 0, _num),
        (r"^accumulated energy \(uj\)$", "energy_j", 0, _microjoules),
        (r"^temperature \(sensor edge\) \(c\)$", "temp_edge_c", 0, _num),
        (r"^temperature \(sensor junction\) \(c\)$", "temp_junction_c", 0, _num),
        (r"^temperature \(sensor mem(?:ory)?\) \(c\)$", "temp_mem_c", 0, _num),
        (r"^temperature \(sensor core\) \(c\)$", "temp_core_c", 0, _num),
        (r"^sclk clock speed$", "sclk_mhz", 0, _num),
        (r"^mclk clock speed$", "mclk_mhz", 0, _num),
        (r"^fan speed \(%\)$", "fan_pct", 0, _num),
    )
]
IDENTITY_KEYS = {
    "unique id": "uuid", "serial number": "serial", "pci bus": "pci_bus",
    "card series": "model", "device name": "device_name", "device id": "device_id",
    "gpu id": "device_id", "card vendor": "card_vendor", "performance level": "perf_level",
    "gfx version": "gfx_arch",
}
# Printed by the long Telegraf-style flag lists or by hy-smi extras; not part of the schema.
IGNORED = re.compile(
    r"^$|firmware version$|clock level$|^\d+$|^(?:dcef|f|soc|v|d)clk\d* clock speed$"
    r"|^vbios version$|overdrive value|^voltage|^gtt |^vis_vram |^\(topology\)|replay count"
    r"|^gpu memory vendor$|^card (?:sku|model)$|^device rev$|^subsystem id$|^guid$|^node id$"
    r"|^fan speed \(level\)$|^fan rpm$|sensor hbm \d+|^avg\. memory bandwidth$|^energy counter$"
    r"|^available memory size|^average (?:gfx core|memory) power|pcie bandwidth"
)
HYGON_VENDORS = ("haiguang", "c-3000", "hygon")


def norm_key(key: str) -> str:
    """``"sclk clock speed:"`` -> ``"sclk clock speed"``; lower-case, single spaces."""
    return " ".join(key.strip().rstrip(":").split()).lower()


def is_hygon(raw: dict[str, str]) -> bool:
    """DTK's rocm-smi prints hy-smi keys: decide the vendor from the output, not the binary."""
    vendor = str(raw.get("Card Vendor", raw.get("Card vendor", ""))).lower()
    if any(name in vendor for name in HYGON_VENDORS):
        return True
    return any(re.match(r"(?:DCU|HCU) |vram ", key) for key in raw)


def _is_hex_id(text: str) -> bool:
    return re.fullmatch(r"0x[0-9a-fA-F]+", text) is not None


def card_sample(tool: str, vendor: str, index: str, raw: dict[str, object],
                warnings: list[str]) -> GpuSample:
    """One device's key/value dict (JSON ``cardN`` or text ``GPU[N]`` lines) -> GpuSample."""
    sample = GpuSample(tool=tool, vendor=vendor, index=index)
    ranks: dict[str, int] = {}
    ident: dict[str, str] = {}
    for raw_key, raw_value in raw.items():
        key, value = norm_key(raw_key), str(raw_value).strip()
        if key in IDENTITY_KEYS:
            ident[IDENTITY_KEYS[key]] = clean_str(value)
            continue
        rule = next(((f, r, c, m) for p, f, r, c in FIELD_RULES if (m := p.match(key))), None)
        if rule is None:
            if not IGNORED.search(key):
                warnings.append(f"{tool}: unknown key {raw_key!r} ignored")
            continue
        field, rank, convert, match = rule
        number = None if is_na(value) else convert(value, match)
        if number is None:
            if not is_na(value):
                warnings.append(f"{tool}: unparsable value {value!r} for {raw_key!r}")
            continue
        if rank < ranks.get(field, rank + 1):
            sample.fields[field], ranks[field] = number, rank
    _set_identity(sample, ident)
    return sample


def _set_identity(sample: GpuSample, ident: dict[str, str]) -> None:
    serial = clean_serial(ident.get("serial"))
    unique = ident.get("uuid", "")
    unique = unique[2:] if unique.lower().startswith("0x") else unique
    sample.pci_bus = norm_pci_bus(ident.get("pci_bus"))
    sample.uuid = unique or serial or sample.pci_bus
    models = [ident.get("model", ""), ident.get("device_name", ""), ident.get("device_id", "")]
    sample.model = next((m for m in models if m and not _is_hex_id(m)), ident.get("device_id", ""))
    for name, value in (("serial", serial), ("device_id", ident.get("device_id", "")),
                        ("perf_level", ident.get("perf_level", "")),
                        ("gfx_arch", ident.get("gfx_arch", ""))):
        if value:
            sample.info[name] = value


COLUMN_FIELDS = {
    "temp": "temp_edge_c", "temp (dieedge)": "temp_edge_c", "temp (edge)": "temp_edge_c",
    "temp (junction)": "temp_junction_c", "temp (memory)": "temp_mem_c",
    "temp (mem)": "temp_mem_c", "avgpwr": "power_w", "power": "power_w",
    "power (avg)": "power_w", "power (socket)": "power_w", "pwrcap": "power_limit_w",
    "sclk": "sclk_mhz", "mclk": "mclk_mhz", "fan": "fan_pct", "vram%": "vram_used_pct",
    "dcu%": "util_pct", "hcu%": "util_pct", "gpu%": "util_pct",
}
COLUMN_INFO = {"perf": "perf_level", "mode": "mode"}
IGNORED_COLUMNS = re.compile(r"^(?:dec%|enc%|node|partitions\b.*)$")


def row_sample(tool: str, vendor: str, index_header: str, row: dict[str, str],
               warnings: list[str]) -> GpuSample:
    """One concise-table row (cells keyed by header name) -> GpuSample."""
    sample = GpuSample(tool=tool, vendor=vendor, index=row.get(index_header, ""))
    for column, cell in row.items():
        name = " ".join(column.lower().split())
        if column == index_header or IGNORED_COLUMNS.match(name):
            continue
        if name.startswith("ids"):  # "(DID, GUID)": "0x7551, 8001"
            sample.info["device_id"] = cell.split(",")[0].strip()
        elif name in COLUMN_INFO:
            if not is_na(cell):
                sample.info[COLUMN_INFO[name]] = cell
        elif name in COLUMN_FIELDS:
            number = to_float(cell)
            if number is not None:
                sample.fields[COLUMN_FIELDS[name]] = number
            elif not is_na(cell):
                warnings.append(f"{tool}: unparsable {column!r} cell {cell!r}")
        else:
            warnings.append(f"{tool}: unknown table column {column!r} ignored")
    return sample


def merge(samples: list[GpuSample], extra: list[GpuSample]) -> list[GpuSample]:
    """Join two views of the same devices (table + per-device lines) by index."""
    by_index = {sample.index: sample for sample in samples}
    for sample in extra:
        base = by_index.get(sample.index)
        if base is None:
            by_index[sample.index] = sample
            continue
        base.fields.update(sample.fields)
        base.info.update(sample.info)
        base.uuid, base.model = base.uuid or sample.uuid, base.model or sample.model
        base.pci_bus = base.pci_bus or sample.pci_bus
    return sorted(by_index.values(), key=lambda s: int(s.index) if s.index.isdigit() else -1)
