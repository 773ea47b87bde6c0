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

from tokenswarm.telemetry.sources.units import is_na

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


def _cells(line: str) -> list[tuple[int, str]]:
    """(start offset, text) per cell: whitespace-separated tokens, except that a parenthesised
    note after ``N/A`` stays with it (``N/A (Secondary die)`` is one cell, MI250 odd GCDs)."""
    cells: list[tuple[int, str]] = []
    open_note = False
    for match in _TOKEN.finditer(line):
        token = match.group(0)
        joins = cells and (open_note or (token.startswith("(") and is_na(cells[-1][1])))
        if joins:
            start, text = cells[-1]
            cells[-1] = (start, f"{text} {token}")
            open_note = not token.endswith(")")
        else:
            cells.append((match.start(), token))
            open_note = False
    return cells


def _split_row(line: str, columns: list[tuple[int, str]]) -> dict[str, str]:
    cells = _cells(line)
    if len(cells) == len(columns):  # right-aligned old tables: one cell per column
        return {name: text for (_s, name), (_o, text) in zip(columns, cells, strict=True)}
    parts: dict[str, list[str]] = {}
    for start, text in cells:  # ROCm 6.1+ cells hold spaces ("0x7551,   8001"): go by offsets
        owner = _owner(columns, start)
        if owner is not None:
            parts.setdefault(columns[owner][1], []).append(text)
    return {name: " ".join(texts) for name, texts in parts.items()}


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
            if (not stripped or stripped.startswith("=")) and not table.rows:
                continue  # ROCm 6.1+ puts a ==== line (some hy-smi a blank one) before rows
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
