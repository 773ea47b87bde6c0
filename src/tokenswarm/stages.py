"""Stages: the steps of a run, and which stage a request belongs to.

A run is a sequence of stages. ``tokenswarm run`` has one (index 0); a sweep walks many (one
per scenario and concurrency level). Each stage starts (``started_ns``, wall clock of the
process that drives the load shape), ramps its users and warms up; requests *started* from
``measure_from_ns`` until the next stage starts are its measured requests. Requests started
earlier belong to the stage's warm-up: kept in requests.csv, excluded from the metrics.

A request is attributed by its start time. One that started in stage k's steady window but
ended after stage k+1 began (a *transition* request) lived through the change of load, so its
latencies are left out of both stages (it stays in requests.csv, phase ``transition``). The
steady window used for throughput (token-time accounting) is
``[measure_from_ns, next started_ns)``.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class StageInfo:
    """One stage as broadcast to every load process."""

    index: int
    name: str
    scenario: str
    users: int
    input_tokens: int
    output_tokens: int
    started_ns: int
    measure_from_ns: int
    duration_s: float | None = None
    requests: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> StageInfo:
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})


class StageTimeline:
    """The stages seen so far by one process, ordered by index (and so by start time)."""

    def __init__(self) -> None:
        self.stages: list[StageInfo] = []
        self._starts: list[int] = []

    def add(self, info: StageInfo) -> None:
        """Add (or replace, when re-broadcast) a stage; stages arrive in index order."""
        if self.stages and self.stages[-1].index == info.index:
            self.stages[-1] = info
            self._starts[-1] = info.started_ns
            return
        self.stages.append(info)
        self._starts.append(info.started_ns)

    @property
    def current(self) -> StageInfo | None:
        return self.stages[-1] if self.stages else None

    def locate(self, start_ns: int) -> tuple[StageInfo | None, bool]:
        """``(stage, measured)`` for a request that started at ``start_ns`` (wall ns).

        Before the first stage's start (a worker whose stage message is still in flight),
        the request belongs to the first stage's warm-up.
        """
        if not self.stages:
            return None, False
        position = bisect.bisect_right(self._starts, start_ns) - 1
        stage = self.stages[max(position, 0)]
        return stage, position >= 0 and start_ns >= stage.measure_from_ns

    def next_start(self, index: int) -> int | None:
        """When the stage after stage ``index`` started (None: not (yet) known)."""
        position = index + 1 - self.stages[0].index if self.stages else -1
        return self._starts[position] if 0 <= position < len(self.stages) else None

    def windows(self, stop_ns: int) -> list[tuple[int, int]]:
        """Each stage's steady window ``[measure_from, end)``: it ends where the next stage
        starts, the last one at ``stop_ns``; empty (start == end) if it never got measured."""
        ends = [*self._starts[1:], stop_ns]
        return [
            (s.measure_from_ns, max(end, s.measure_from_ns))
            for s, end in zip(self.stages, ends, strict=True)
        ]

    def clear(self) -> None:
        self.stages.clear()
        self._starts.clear()
