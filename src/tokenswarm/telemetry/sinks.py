"""Where the agent's points go: InfluxDB (shared batching writer) and a local JSON-lines file.

The file sink makes a run reportable without InfluxDB (``results/<run_id>/telemetry.jsonl``,
one object per point, exactly what InfluxDB would store: empty tags and absent fields left
out). Each batch is flushed to the file at once so a crash loses at most one poll.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from tokenswarm.influx.config import InfluxConfig
from tokenswarm.influx.point import Point
from tokenswarm.influx.writer import InfluxWriter


class Sink(Protocol):
    def describe(self) -> str:
        """One line for the start-up log."""
        ...

    def write(self, points: list[Point]) -> None:
        """Queue ``points``; must not block on the network."""
        ...

    def close(self, timeout_s: float) -> dict[str, Any]:
        """Deliver what is left; returns counters for the exit summary."""
        ...


def point_dict(point: Point) -> dict[str, Any]:
    """The JSON object of one point (same content as its line protocol)."""
    return {
        "measurement": point.measurement,
        "tags": {k: v for k, v in sorted(point.tags.items()) if v != ""},
        "fields": {k: v for k, v in point.fields.items() if v is not None},
        "time_ns": point.time_ns,
    }


class FileSink:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self.lines = 0

    def describe(self) -> str:
        return f"file {self.path}"

    def write(self, points: list[Point]) -> None:
        text = "".join(json.dumps(point_dict(p), separators=(",", ":")) + "\n" for p in points)
        self._file.write(text)
        self._file.flush()
        self.lines += len(points)

    def close(self, timeout_s: float) -> dict[str, Any]:
        self._file.close()
        return {"file_points": self.lines}


class InfluxSink:
    """The shared :class:`InfluxWriter` (bounded buffer, retries, drop counter)."""

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self.writer = InfluxWriter(config)
        self.server_version = ""

    def start(self) -> None:
        """Check the server (one-line UserError when it is unusable) and start sending."""
        self.server_version = self.writer.check()
        self.writer.start()

    def describe(self) -> str:
        return f"influxdb {self.config.base_url} ({self.server_version})"

    def write(self, points: list[Point]) -> None:
        self.writer.write(points)

    def close(self, timeout_s: float) -> dict[str, Any]:
        stats = self.writer.close(timeout_s)
        return {
            "written": stats.points_written,
            "dropped": stats.points_dropped,
            "failed_batches": stats.batches_failed,
        }
