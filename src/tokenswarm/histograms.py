"""Mergeable log-bucketed histograms with a guaranteed relative error.

Why not Locust's own stats: Locust rounds response times to ~2 significant digits (whole ms
below 100 ms), so sub-10 ms ITLs collapse into one or two buckets. These histograms keep every
value to within ``RELATIVE_ERROR`` (0.5 %) and merge exactly, so percentiles of a distributed
run are computed from the union of all workers' samples, never averaged across workers.

Mapping (DDSketch-style): with ``gamma = (1 + a) / (1 - a)``, a value ``v > 0`` (in
microseconds) goes to bucket ``i = ceil(log(v) / log(gamma))``; the bucket's representative
value ``2 * gamma**i / (gamma + 1)`` is within ``a`` of every value in the bucket. Values at or
below ``MIN_US`` share bucket ``ZERO_BUCKET``. Count, sum, min and max are kept exactly.

Percentiles use the nearest-rank definition: the q-quantile is the smallest recorded value
whose rank is at least ``ceil(q * count)`` (numpy's ``method="inverted_cdf"``), clamped to the
exact [min, max].
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

RELATIVE_ERROR = 0.005
_GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LOG_GAMMA = math.log(_GAMMA)
_INV_LOG_GAMMA = 1.0 / _LOG_GAMMA
MIN_US = 1.0
ZERO_BUCKET = -(10**6)
PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9)


def _bucket(value_us: float) -> int:
    if value_us <= MIN_US:
        return ZERO_BUCKET
    return math.ceil(math.log(value_us) * _INV_LOG_GAMMA)


def _representative(bucket: int) -> float:
    if bucket == ZERO_BUCKET:
        return MIN_US
    return 2.0 * _GAMMA**bucket / (_GAMMA + 1.0)


class Histogram:
    """A mergeable histogram of millisecond values stored in microsecond buckets."""

    __slots__ = ("count", "counts", "max_ms", "min_ms", "sum_ms")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.sum_ms = 0.0
        self.min_ms = math.inf
        self.max_ms = -math.inf

    def record(self, value_ms: float, times: int = 1) -> None:
        """Add ``times`` samples of ``value_ms`` (negative values are clamped to 0)."""
        if value_ms < 0.0:
            value_ms = 0.0
        key = _bucket(value_ms * 1000.0)
        counts = self.counts
        counts[key] = counts.get(key, 0) + times
        self.count += times
        self.sum_ms += value_ms * times
        if value_ms < self.min_ms:
            self.min_ms = value_ms
        if value_ms > self.max_ms:
            self.max_ms = value_ms

    def record_many(self, values_ms: Iterable[float]) -> None:
        """Add one sample per value: the bulk path (one request's ITLs at its end), with the
        bucket mapping inlined (same buckets as :meth:`record`)."""
        values = [v if v > 0.0 else 0.0 for v in values_ms]
        if not values:
            return
        counts, log, ceil = self.counts, math.log, math.ceil
        for v in values:
            us = v * 1000.0
            key = ceil(log(us) * _INV_LOG_GAMMA) if us > MIN_US else ZERO_BUCKET
            counts[key] = counts.get(key, 0) + 1
        self.count += len(values)
        self.sum_ms += sum(values)
        self.min_ms = min(self.min_ms, min(values))
        self.max_ms = max(self.max_ms, max(values))

    def merge(self, other: Histogram) -> None:
        """Add every sample of ``other`` (exact: bucket counts are summed)."""
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        self.count += other.count
        self.sum_ms += other.sum_ms
        self.min_ms = min(self.min_ms, other.min_ms)
        self.max_ms = max(self.max_ms, other.max_ms)

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile (0 < q <= 100) in ms, nearest rank; None when empty."""
        if self.count == 0:
            return None
        rank = max(1, math.ceil(q / 100.0 * self.count))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                value_ms = _representative(key) / 1000.0
                return min(max(value_ms, self.min_ms), self.max_ms)
        return self.max_ms

    def summary(self) -> dict[str, float | int | None]:
        """count, mean, min, max and the standard percentiles (p50 ... p99.9), all in ms."""
        if self.count == 0:
            return {"count": 0, "mean": None, "min": None, "max": None} | {
                _pname(q): None for q in PERCENTILES
            }
        out: dict[str, float | int | None] = {
            "count": self.count,
            "mean": self.sum_ms / self.count,
            "min": self.min_ms,
            "max": self.max_ms,
        }
        out.update({_pname(q): self.percentile(q) for q in PERCENTILES})
        return out

    def to_wire(self) -> dict[str, Any]:
        """A msgpack/JSON-friendly form (bucket keys as strings for JSON safety)."""
        return {
            "counts": {str(k): v for k, v in self.counts.items()},
            "count": self.count,
            "sum_ms": self.sum_ms,
            "min_ms": self.min_ms if self.count else None,
            "max_ms": self.max_ms if self.count else None,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Histogram:
        hist = cls()
        hist.counts = {int(k): int(v) for k, v in data["counts"].items()}
        hist.count = int(data["count"])
        hist.sum_ms = float(data["sum_ms"])
        if hist.count:
            hist.min_ms = float(data["min_ms"])
            hist.max_ms = float(data["max_ms"])
        return hist


def _pname(q: float) -> str:
    """50.0 -> 'p50', 99.9 -> 'p99.9'."""
    return f"p{q:g}"
