"""The agent loop: every source on its own thread and schedule, points to every sink.

One thread per source so a hanging GPU tool (killed only at its timeout) never delays the host
or engine series. Every point carries the run id and host; each poll also yields a
``gpu_collector`` self-metric point (up, duration_s, devices, parse_warnings) so a dashboard
shows a dead collector as ``up=0`` instead of a silent gap. Counters are reported in one line
at exit, after the sinks' final flush.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tokenswarm.influx.point import Point
from tokenswarm.telemetry.schedule import Stamper, Ticker
from tokenswarm.telemetry.sinks import Sink
from tokenswarm.telemetry.source import LogOnce, PollResult, Source

log = logging.getLogger("tokenswarm.agent")


@dataclass
class AgentStats:
    polls: int = 0
    points: int = 0
    errors: int = 0
    tool_timeouts: int = 0
    skipped_ticks: int = 0
    parse_warnings: int = 0
    sinks: dict[str, Any] = field(default_factory=dict)

    def summary(self, run_id: str) -> str:
        """The exit line: what was polled, produced, delivered and lost."""
        counters = {
            "polls": self.polls,
            "points": self.points,
            **self.sinks,
            "dropped": self.sinks.get("dropped", 0),
            "tool_timeouts": self.tool_timeouts,
            "errors": self.errors,
            "parse_warnings": self.parse_warnings,
            "skipped_ticks": self.skipped_ticks,
        }
        text = " ".join(f"{k}={v}" for k, v in counters.items())
        return f"tokenswarm agent: run_id={run_id} {text}"


class Agent:
    def __init__(
        self, sources: list[Source], sinks: list[Sink], run_id: str, host: str, interval_s: float
    ) -> None:
        self.sources = sources
        self.sinks = sinks
        self.run_id = run_id
        self.host = host
        self.interval_s = interval_s
        self.stats = AgentStats()
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self._errors = LogOnce()

    def points(self, source: Source, result: PollResult, time_ns: int) -> list[Point]:
        """The points of one poll: its samples plus the collector self-metric."""
        points = [s.to_point(self.run_id, self.host, time_ns) for s in result.samples]
        collector = {
            "up": 1 if result.ok else 0,
            "duration_s": round(result.duration_s, 6),
            "devices": len(result.samples),
            "parse_warnings": result.warnings,
        }
        tags = {"run_id": self.run_id, "host": self.host, "tool": source.name}
        points.append(Point("gpu_collector", tags, collector, time_ns))
        return points

    def _record(self, source: Source, result: PollResult, points: list[Point]) -> None:
        with self._lock:
            self.stats.polls += 1
            self.stats.points += len(points)
            self.stats.parse_warnings += result.warnings
            if not result.ok:
                self.stats.errors += 1
                self.stats.tool_timeouts += int(result.timed_out)
            for sink in self.sinks:
                sink.write(points)
        if not result.ok and (result.timed_out or self._errors.first(result.error)):
            log.warning("%s", result.error)

    def _loop(self, source: Source, ticker: Ticker) -> None:
        stamp = Stamper()
        while not self.stop_event.wait(ticker.next_delay()):
            time_ns = stamp()
            try:
                result = source.poll()
            except Exception as exc:  # a source bug must not end the agent
                log.exception("%s: poll failed", source.name)
                result = PollResult(ok=False, error=f"{source.name}: {exc!r}")
            self._record(source, result, self.points(source, result, time_ns))
        with self._lock:
            self.stats.skipped_ticks += ticker.skipped

    def run(self, duration_s: float = 0.0, join_timeout_s: float = 10.0,
            flush_timeout_s: float = 5.0) -> AgentStats:
        """Poll until :meth:`stop` (or ``duration_s`` > 0 elapsed), then close the sinks.

        ``join_timeout_s`` bounds the wait for each poll thread (one may be inside a tool call),
        ``flush_timeout_s`` each sink's final flush (the InfluxDB request timeout)."""
        ticker_start = None
        threads = []
        for source in self.sources:
            ticker = Ticker(self.interval_s, ticker_start)
            ticker_start = ticker.start  # all sources share one grid
            thread = threading.Thread(target=self._loop, args=(source, ticker),
                                      name=f"poll-{source.name}", daemon=True)
            thread.start()
            threads.append(thread)
        deadline = time.monotonic() + duration_s if duration_s > 0 else float("inf")
        # Short waits keep the main thread responsive to SIGTERM/SIGINT handlers.
        while not self.stop_event.wait(min(0.5, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                break
        self.stop_event.set()
        for thread in threads:
            thread.join(join_timeout_s)
        for sink in self.sinks:
            self.stats.sinks.update(sink.close(flush_timeout_s))
        return self.stats

    def stop(self) -> None:
        self.stop_event.set()
