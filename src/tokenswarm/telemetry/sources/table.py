"""Text layouts shared by hy-smi, DTK rocm-smi and AMD rocm-smi.

Two layouts exist:

* the default ("concise") table: a header line whose first token is ``DCU``/``HCU``/``GPU``/
  ``Device``, rows that start with the device index, a ``====`` footer. Columns move between
  versions (``Fan`` appears and goes, ``Dec%``/``Enc%`` were added, ROCm 6.1+ adds a second
  header row of qualifiers such as ``(Edge)``/``(Junction)``), so cells are returned keyed by
  header *name*, never by position;
* per-device lines ``HCU[0]          : Card Series: K100_AI`` (``-a``, ``--showmemavailable``,
  ``--showpower`` ...), returned as raw key/value dicts per device index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

INDEX_HEADERS = ("DCU", "HCU", "GPU", "Device")
_DEVICE_LINE = re.compile(r"^\s*(?:DCU|HCU|GPU)\[(\d+)\]\s*:\s*(.*?)\s*$")
_TOKEN = re.compile(r"\S+")


@dataclass
class Table:
    """Rows of a concise table; each row maps a header (with its qualifier) to its cell."""

    index_header: str
    columns: list[str]
    rows: list[dict[str, str]] = field(default_factory=list)


def _header_columns(line: str, qualifiers: str) -> list[tuple[int, str]]:
    """(start offset, name) per column; ``Temp (DieEdge)`` and second-row ``(Edge)`` attach
    to the column they stand under/after."""
    columns: list[tuple[int, str]] = []
    for match in _TOKEN.finditer(line):
        token = match.group(0)
        if token.startswith("(") and columns:
            start, name = columns[-1]
            columns[-1] = (start, f"{name} {token}")
        else:
            columns.append((match.start(), token))
    for match in re.finditer(r"\([^)]*\)", qualifiers):
        owner = _owner(columns, match.start())
        if owner is not None and "(" not in columns[owner][1]:
            columns[owner] = (columns[owner][0], f"{columns[owner][1]} {match.group(0)}")
    return columns


def _owner(columns: list[tuple[int, str]], offset: int) -> int | None:
    """The column whose span (its start up to the next column's start) holds ``offset``."""
    owner = None
    for position, (start, _name) in enumerate(columns):
        if start <= offset:
            owner = position
    return owner


def _split_row(line: str, columns: list[tuple[int, str]]) -> dict[str, str]:
    tokens = list(_TOKEN.finditer(line))
    if len(tokens) == len(columns):  # right-aligned old tables: one token per column
        return {name: token.group(0) for (_s, name), token in zip(columns, tokens, strict=True)}
    cells: dict[str, list[str]] = {}
    for token in tokens:  # ROCm 6.1+ cells hold spaces ("0x7551,   8001"): go by offsets
        owner = _owner(columns, token.start())
        if owner is not None:
            cells.setdefault(columns[owner][1], []).append(token.group(0))
    return {name: " ".join(parts) for name, parts in cells.items()}


def find_table(text: str) -> Table | None:
    """The first concise table in ``text`` that has rows, or None."""
    lines = text.splitlines()
    for number, line in enumerate(lines):
        first = line.split(maxsplit=1)[0] if line.strip() else ""
        if first not in INDEX_HEADERS or len(line.split()) < 3 or "[" in first:
            continue
        rest = lines[number + 1:]
        qualifiers = rest[0] if rest and rest[0].lstrip().startswith("(") else ""
        columns = _header_columns(line, qualifiers)
        table = Table(first, [name for _s, name in columns])
        for row_line in rest[1 if qualifiers else 0:]:
            stripped = row_line.strip()
            if stripped.startswith("=") and not table.rows:
                continue  # ROCm 6.1+ puts a ==== line between header and rows
            if not stripped or not stripped.split()[0].isdigit():
                break
            table.rows.append(_split_row(row_line, columns))
        if table.rows:  # a header-like line without rows (e.g. "HCU Node(...)") is no table
            return table
    return None


def device_lines(text: str) -> dict[str, dict[str, str]]:
    """``HCU[3] : Key: value`` lines grouped by index: ``{"3": {"Key": "value"}}``."""
    devices: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        match = _DEVICE_LINE.match(line)
        if not match:
            continue
        key, _sep, value = match.group(2).partition(":")
        devices.setdefault(match.group(1), {})[key.strip()] = value.strip()
    return devices
