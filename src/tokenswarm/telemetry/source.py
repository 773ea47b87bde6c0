"""The one interface every telemetry source implements, and what one poll returns.

GPU tools, the host and the engine's ``/metrics`` differ in how they are read, but the agent
loop only needs "poll now, give me samples or say why not", so a slow or broken source is
handled the same way whatever it is (counted, logged once, next poll tried again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from tokenswarm.telemetry.sample import Sample


@dataclass
class PollResult:
    """Outcome of one poll. ``ok`` False: ``error`` says why (samples may still be empty)."""

    samples: list[Sample] = field(default_factory=list)
    ok: bool = True
    error: str = ""
    timed_out: bool = False
    duration_s: float = 0.0
    warnings: int = 0


class Source(Protocol):
    """A thing the agent polls on its schedule."""

    name: str  # "rocm-smi", "host", "engine": the ``tool`` tag of its self-metrics

    def describe(self) -> str:
        """One line for the start-up log and ``tokenswarm doctor`` (path, version, URL)."""
        ...

    def poll(self) -> PollResult:
        """Read the source once; never raises for a source-side failure."""
        ...


class LogOnce:
    """Remembers messages already logged: a warning that repeats every second would bury the
    journal, yet the first one must be seen."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def first(self, message: str) -> bool:
        """True the first time ``message`` is seen."""
        if message in self._seen:
            return False
        self._seen.add(message)
        return True
