"""Poll timing: ticks on a fixed monotonic grid, stamps that never repeat.

Sleeping ``interval`` after each poll drifts by the poll's own duration (a 300 ms tool call
at 1 s turns 60 polls a minute into 46). Ticks are ``start + k * interval`` instead; a poll
that overruns skips the ticks it missed rather than bunching up. InfluxDB overwrites points of
one series that share a timestamp, so each series gets strictly increasing nanoseconds even
if the wall clock steps back (NTP) or two polls land in the same nanosecond tick.
"""

from __future__ import annotations

import math
import time


class Ticker:
    """``next_delay()`` until the next tick; ``skipped`` counts ticks lost to overruns."""

    def __init__(self, interval_s: float, start: float | None = None) -> None:
        self.interval_s = interval_s
        self.start = time.monotonic() if start is None else start
        self.k = 0
        self.skipped = 0

    def next_delay(self, now: float | None = None) -> float:
        """Seconds to wait for the next tick (0: due now); advances past missed ticks."""
        now = time.monotonic() if now is None else now
        due = math.floor((now - self.start) / self.interval_s)
        if due > self.k:
            self.skipped += due - self.k
            self.k = due
        delay = self.start + self.k * self.interval_s - now
        self.k += 1
        return max(0.0, delay)


class Stamper:
    """Wall-clock nanoseconds, strictly increasing across calls."""

    def __init__(self) -> None:
        self.last = 0

    def __call__(self, now_ns: int | None = None) -> int:
        now_ns = time.time_ns() if now_ns is None else now_ns
        self.last = max(now_ns, self.last + 1)
        return self.last
