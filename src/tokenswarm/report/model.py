"""The report as data (sections of paragraphs, bullet items, tables and figures), rendered by
``html`` and ``markdown`` alike so both show the same numbers.

Number format (both outputs): integers as they are; other numbers rounded to 2 decimals
(``f"{v:.2f}"``, no thousands separator). In the HTML every numeric cell also carries the
exact value in ``data-value`` (Python ``repr`` of the float, or the integer), so a check can
compare it with summary.json unrounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any


def fmt(value: Any) -> str:
    """The displayed text of a number (see the module doc); '-' for a missing one."""
    if value is None or isinstance(value, bool):
        return "-" if value is None else ("yes" if value else "no")
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return "-" if math.isnan(value) else f"{float(value):.2f}"
    return str(value)


@dataclass(frozen=True)
class Cell:
    text: str
    value: int | float | None = None  # the exact number behind a numeric cell

    @classmethod
    def of(cls, value: Any, missing: str = "-") -> Cell:
        """A cell for any value: numbers keep their exact value, None/NaN show ``missing``."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return cls(missing)
        if isinstance(value, bool) or not isinstance(value, Real):
            return cls(fmt(value))
        exact: int | float = int(value) if isinstance(value, Integral) else float(value)
        return cls(fmt(exact), exact)


@dataclass
class Table:
    id: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)

    def add(self, *values: Any) -> None:
        self.rows.append([v if isinstance(v, Cell) else Cell.of(v) for v in values])


@dataclass(frozen=True)
class Figure:
    id: str
    caption: str
    svg: str


@dataclass
class Section:
    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


@dataclass
class Report:
    title: str
    sections: list[Section] = field(default_factory=list)
