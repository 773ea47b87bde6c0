"""InfluxDB line protocol: one :class:`Point`, encoded by :func:`encode`.

Timestamps are nanoseconds (no ``precision`` parameter): millisecond stamps lost a third of
per-request points to overwrites in a measured run (DESIGN.md section 5). Escaping follows the
line protocol reference: measurement escapes comma and space; tag keys/values and field keys
escape comma, equals and space, and a backslash there stays as it is (InfluxDB 1.x does not
unescape ``\\\\`` in them: doubling it stored two backslashes); string field values are
double-quoted with ``"`` and ``\\`` escaped. Integers carry the ``i`` suffix, floats are
written with ``repr`` (shortest exact). A field whose value is None is left out (N/A is
absent, never 0); a point with no field at all is not a valid line and encodes to ''.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

FieldValue = float | int | bool | str


@dataclass(frozen=True, slots=True)
class Point:
    measurement: str
    tags: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, FieldValue | None] = field(default_factory=dict)
    time_ns: int = 0


def _escape_key(text: str) -> str:
    return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_measurement(text: str) -> str:
    return text.replace(",", "\\,").replace(" ", "\\ ")


def _field_value(value: FieldValue) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def encode(point: Point) -> str:
    """One line of line protocol (no trailing newline); '' when no field has a value."""
    fields = []
    for key, value in point.fields.items():
        if value is None:
            continue
        text = _field_value(value)
        if text is not None:
            fields.append(f"{_escape_key(key)}={text}")
    if not fields:
        return ""
    tags = "".join(
        f",{_escape_key(k)}={_escape_key(v)}" for k, v in sorted(point.tags.items()) if v != ""
    )
    stamp = f" {point.time_ns}" if point.time_ns else ""
    return f"{_escape_measurement(point.measurement)}{tags} {','.join(fields)}{stamp}"


def encode_all(points: Iterable[Point]) -> list[str]:
    """Encoded lines of ``points``, skipping those without fields."""
    return [line for line in map(encode, points) if line]
