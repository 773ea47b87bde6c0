"""Value normalisation shared by every tool parser.

GPU tools print numbers with units glued on (``59.0C``, ``(1269Mhz)``, ``118.0W``, ``27 C``,
``81920 MiB``) and spell "no value" in many ways (``N/A``, ``[N/A]``, ``N/A (Secondary die)``,
``[Not Supported]``, empty). One place decides what is a number, so a missing reading is
always *absent* and never turns into 0.
"""

from __future__ import annotations

import re

MIB = 1024 * 1024

# Byte multipliers. amd-smi prints "MB" but computes bytes // 2**20 (TELEMETRY-FORMATS 2.3), and
# nvidia/hy-smi use MiB: every "M" unit here is binary.
BYTE_UNITS: dict[str, int] = {
    "b": 1, "kb": 1024, "kib": 1024, "mb": MIB, "mib": MIB,
    "gb": 1024 * MIB, "gib": 1024 * MIB,
}
ENERGY_UNITS: dict[str, float] = {"j": 1.0, "mj": 1e-3, "uj": 1e-6, "µj": 1e-6}
POWER_UNITS: dict[str, float] = {"w": 1.0, "mw": 1e-3, "uw": 1e-6, "µw": 1e-6}
CLOCK_UNITS: dict[str, float] = {"mhz": 1.0, "ghz": 1000.0, "khz": 1e-3, "hz": 1e-6}

_NA_EXACT = frozenset({"", "na", "none", "null", "-", "unknown"})
_NA_PREFIXES = ("n/a", "not supported", "requested functionality")
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_PCI = re.compile(r"^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$")


def is_na(value: object) -> bool:
    """True for every spelling of "no reading": None, "", N/A, [N/A], N/A (Secondary die)..."""
    if value is None:
        return True
    if isinstance(value, (int, float)):
        return False
    text = str(value).strip().strip("[]").strip().lower()
    return text in _NA_EXACT or text.startswith(_NA_PREFIXES)


def split_number(value: object) -> tuple[float, str] | None:
    """``"(1269Mhz)"`` -> ``(1269.0, "mhz")``; ``"59.0°C"`` -> ``(59.0, "c")``; N/A -> None.

    Returns None for anything that does not start with a number (after parentheses and
    whitespace): the caller leaves the field out.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value), ""
    if is_na(value):
        return None
    text = str(value).strip().strip("()[]").strip()
    match = _NUMBER.match(text)
    if not match:
        return None
    unit = text[match.end():].strip().strip("()").replace("°", "").strip().lower()
    return float(match.group(0)), unit


def to_float(value: object) -> float | None:
    """The number in ``value`` with its unit suffix dropped; None when absent or not a number."""
    parsed = split_number(value)
    return None if parsed is None else parsed[0]


def to_bytes(value: object, unit: str = "") -> int | None:
    """Byte count from a value and its unit (from the value itself or from the key/header)."""
    parsed = split_number(value)
    if parsed is None:
        return None
    number, own_unit = parsed
    scale = BYTE_UNITS.get((own_unit or unit).lower())
    if scale is None:
        return None
    return round(number * scale)


def scaled(value: object, units: dict[str, float], default_unit: str) -> float | None:
    """A number converted with ``units`` (e.g. uJ -> J); None for unknown units or N/A."""
    parsed = split_number(value)
    if parsed is None:
        return None
    number, unit = parsed
    factor = units.get(unit or default_unit)
    return None if factor is None else number * factor


def norm_pci_bus(value: object) -> str:
    """``"00000000:01:00.0"``, ``"0000:09:00.0 --> SN: ... --> OAM ID: 1"`` -> ``"0000:09:00.0"``.

    Hygon appends ``--> SN: ...`` after the address and nvidia uses an 8-digit domain; the tag
    is always lower-case ``dddd:bb:dd.f``. Returns "" when the text is no PCI address.
    """
    if is_na(value):
        return ""
    first = str(value).strip().split()[0] if str(value).strip() else ""
    match = _PCI.match(first)
    if not match:
        return ""
    domain, bus, dev, func = match.groups()
    return f"{int(domain or '0', 16):04x}:{int(bus, 16):02x}:{int(dev, 16):02x}.{func}"


def clean_str(value: object) -> str:
    """A string field, or "" when the tool said N/A."""
    return "" if is_na(value) else str(value).strip()


def clean_serial(value: object) -> str:
    """A serial number, or "" for N/A and the all-zero placeholders (``0``, ``0000000000000``)."""
    text = clean_str(value)
    return "" if text.strip("0") == "" else text
