"""Where the agent's points go: InfluxDB (shared batching writer) and a local JSON-lines file.

The file sink makes a run reportable without InfluxDB (``results/<run_id>/telemetry.jsonl``,
one object per point, exactly what InfluxDB would store: empty tags and absent fields left
out, a point with no field at all skipped as InfluxDB would refuse it). Each batch is flushed
to the file at once so a crash loses at most one poll.

InfluxDB at start-up: a definite configuration error (credentials refused, database missing
without ``create_database``, v2 asked of a 1.x server) stops the agent with one line. A server
that cannot be reached (connection refused, timeout, 5xx) does not: the agent logs one
warning and runs as during a mid-run outage: points are buffered (bounded, oldest dropped and
counted), the check is retried with backoff, and sending starts once the server answers.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Any, Protocol

import requests

from tokenswarm.influx.config import InfluxConfig
from tokenswarm.influx.point import Point
from tokenswarm.influx.transport import backoff_s
from tokenswarm.influx.writer import InfluxError, InfluxWriter

log = logging.getLogger("tokenswarm.agent")
_SERVER_ERROR = re.compile(r"answered HTTP 5\d\d\b")


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
        objects = [d for d in map(point_dict, points) if d["fields"]]  # InfluxDB needs a field
        text = "".join(json.dumps(d, separators=(",", ":")) + "\n" for d in objects)
        self._file.write(text)
        self._file.flush()
        self.lines += len(objects)

    def close(self, timeout_s: float) -> dict[str, Any]:
        self._file.close()
        return {"file_points": self.lines}


def unreachable(exc: InfluxError) -> bool:
    """True when the check failed because the server did not answer (connection refused,
    timeout) or answered 5xx: worth retrying, unlike refused credentials or a missing
    database."""
    context = exc.__context__  # "raise ... from None" keeps the requests error here
    return isinstance(context, requests.RequestException) or bool(_SERVER_ERROR.search(str(exc)))


class InfluxSink:
    """The shared :class:`InfluxWriter` (bounded buffer, retries, drop counter)."""

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self.writer = InfluxWriter(config)
        self.server_version = ""
        self.state = "not checked"
        self._closing = threading.Event()
        self._checker: threading.Thread | None = None

    def start(self) -> None:
        """Check the server and start sending. A definite configuration error raises
        :class:`InfluxError` (one line); an unreachable server logs one warning and is
        re-checked in the background while points are buffered (see the module doc)."""
        try:
            self.server_version = self.writer.check()
        except InfluxError as exc:
            if not unreachable(exc):
                raise
            self.state = "unreachable at start-up, buffering"
            log.warning("%s; starting anyway: points are buffered (up to %d, oldest dropped) "
                        "and sent once it answers, telemetry.jsonl is written meanwhile",
                        exc, self.config.max_buffer_points)
            self._checker = threading.Thread(target=self._recheck, name="influx-check",
                                             daemon=True)
            self._checker.start()
            return
        self.state = self.server_version or "version unknown"
        self.writer.start()

    def _recheck(self) -> None:
        """Retry the start-up check with capped backoff; start the writer once it passes."""
        attempt = 0
        while not self._closing.is_set():
            attempt += 1
            if self._closing.wait(backoff_s(attempt, self.config.max_backoff_s)):
                return
            try:
                self.server_version = self.writer.check()
            except InfluxError as exc:
                if unreachable(exc):
                    continue
                self.state = f"refused: {exc}"
                log.error("%s: no point will reach InfluxDB in this run (telemetry.jsonl is "
                          "still written); fix it and restart the agent", exc)
                return
            self.state = self.server_version or "version unknown"
            log.warning("InfluxDB at %s answers now (%s): sending the buffered points",
                        self.config.base_url, self.state)
            self.writer.start()
            return

    def describe(self) -> str:
        return f"influxdb {self.config.base_url} ({self.state})"

    def write(self, points: list[Point]) -> None:
        self.writer.write(points)

    def close(self, timeout_s: float) -> dict[str, Any]:
        self._closing.set()
        stats = self.writer.close(timeout_s)
        return {
            "written": stats.points_written,
            "dropped": stats.points_dropped,
            "failed_batches": stats.batches_failed,
        }
