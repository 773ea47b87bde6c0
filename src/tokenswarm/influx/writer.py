"""The one InfluxDB writer per process: a bounded line buffer drained by one background thread.

Callers (the telemetry agent's sampling threads, Locust request hooks running in greenlets)
must never wait for InfluxDB: :meth:`InfluxWriter.write` only encodes and appends under a lock.
One ``threading.Thread`` (a greenlet once gevent has patched ``threading``) POSTs batches of line
protocol, so the same code runs in plain and gevent processes (DESIGN.md section 5).

Failure policy: 5xx, 429 and connection errors keep the lines and retry with capped exponential
backoff, so that an InfluxDB restart loses nothing as long as the buffer holds; other 4xx mean
the lines themselves are refused (bad line, missing database), so that batch is dropped and
counted rather than retried forever. When the buffer is full the OLDEST lines are dropped:
InfluxDB serves the live dashboard, which needs "now" first once the server is back, while the
complete record of a run lives in the result files anyway.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

from tokenswarm.influx.config import InfluxConfig
from tokenswarm.influx.point import Point, encode_all
from tokenswarm.influx.transport import InfluxError, InfluxHttp, Outcome, backoff_s

__all__ = ["InfluxConfig", "InfluxError", "InfluxWriter", "WriterStats"]

log = logging.getLogger("tokenswarm.influx")


@dataclass(frozen=True)
class WriterStats:
    """Counters in lines (= points). ``buffered`` includes a batch being sent right now."""

    points_written: int = 0
    points_dropped: int = 0
    batches_failed: int = 0
    retries: int = 0
    buffered: int = 0
    last_error: str = ""


class InfluxWriter:
    """Batching, retrying, bounded writer; thread-safe. ``check()`` then ``start()``."""

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self._http = InfluxHttp(config)
        self._cond = threading.Condition()
        self._lines: collections.deque[str] = collections.deque()
        # The first `_sending` lines of `_lines` are in flight; `_lost_in_flight` of those were
        # pushed out by overflow meanwhile (they still reach the server if the POST succeeds).
        self._sending = 0
        self._lost_in_flight = 0
        self._written = self._dropped = self._failed = self._retries = 0
        self._last_error = ""
        self._kick = False  # flush()/close() asked for one attempt now, even during a backoff
        self._draining = False  # flush()/close() wait for an empty buffer: no interval pauses
        self._deadline: float | None = None  # set by close(): the sender stops at this time
        self._thread: threading.Thread | None = None
        self._closed = False
        self._abandoned = False
        self._last_reject = ""

    def check(self) -> str:
        """Ping the server and, for v1, make sure the database exists (or create it when
        ``create_database``). Returns the server version ('' if it sends none). Raises
        :class:`InfluxError` with one line saying what to fix: better at start-up than a run
        whose points all vanish."""
        return self._http.check()

    def start(self) -> None:
        """Start the background sender (idempotent)."""
        with self._cond:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="tokenswarm-influx-writer", daemon=True
                )
                self._thread.start()

    def write(self, points: Iterable[Point]) -> None:
        """Encode and enqueue; never blocks on the network. Overflow drops the oldest lines."""
        lines = encode_all(points)
        if not lines:
            return
        with self._cond:
            if self._closed:
                self._dropped += len(lines)
                return
            was_idle = len(self._lines) == self._sending
            self._lines.extend(lines)
            overflow = len(self._lines) - self.config.max_buffer_points
            if overflow > 0:
                for _ in range(overflow):
                    self._lines.popleft()
                self._dropped += overflow
                self._lost_in_flight += min(overflow, self._sending - self._lost_in_flight)
            if was_idle or len(self._lines) - self._sending >= self.config.batch_size:
                self._cond.notify_all()

    def flush(self, timeout_s: float) -> bool:
        """Send everything buffered now; True once the buffer is empty, False at the timeout
        (e.g. InfluxDB is down: the lines stay buffered and retried)."""
        end = time.monotonic() + timeout_s
        with self._cond:
            self._kick = self._draining = True
            self._cond.notify_all()
            while self._lines:
                left = end - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout_s: float = 5.0) -> WriterStats:
        """Final flush, retrying until ``timeout_s`` at most, then stop; what is still buffered
        then counts as dropped. Idempotent. The deadline matters: Locust's shutdown and the
        agent's exit must not hang on a dead InfluxDB."""
        with self._cond:
            if self._deadline is None:
                self._deadline = time.monotonic() + timeout_s
            self._closed = self._kick = self._draining = True
            self._cond.notify_all()
            thread, deadline = self._thread, self._deadline
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            # Lines still here were not delivered in time (or the sender was never started);
            # a POST still running past the deadline no longer counts.
            self._abandoned = True
            self._dropped += len(self._lines) - self._lost_in_flight
            self._lines.clear()
            self._sending = self._lost_in_flight = 0
        self._http.close()
        return self.stats()

    def stats(self) -> WriterStats:
        with self._cond:
            return WriterStats(
                self._written, self._dropped, self._failed, self._retries,
                len(self._lines), self._last_error,
            )

    # -- background sender ------------------------------------------------------------------

    def _run(self) -> None:
        attempt = 0  # consecutive failed attempts of the current batch
        down_since: float | None = None
        next_send = time.monotonic() + self.config.flush_interval_s
        while True:
            with self._cond:
                batch = self._next_batch(next_send, backing_off=attempt > 0)
                if batch is None:
                    return
                timeout = self.config.timeout_s
                if self._deadline is not None:
                    timeout = max(0.05, min(timeout, self._deadline - time.monotonic()))
            outcome = self._http.post(batch, timeout)
            with self._cond:
                self._settle(len(batch), outcome)
                self._cond.notify_all()
            if outcome.kind == "retry":
                attempt += 1
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning(
                        "InfluxDB at %s is failing (%s); buffering up to %d points and retrying",
                        self.config.base_url, outcome.message, self.config.max_buffer_points,
                    )
                delay = outcome.retry_after_s or backoff_s(attempt, self.config.max_backoff_s)
                next_send = time.monotonic() + min(delay, self.config.max_backoff_s)
                continue
            if down_since is not None:
                log.warning(
                    "InfluxDB at %s recovered after %.1f s", self.config.base_url,
                    time.monotonic() - down_since,
                )
                down_since = None
            attempt = 0
            next_send = time.monotonic() + self.config.flush_interval_s

    def _next_batch(self, next_send: float, backing_off: bool) -> list[str] | None:
        """Wait (lock held) until a batch is due and return a copy of it; None to stop.

        Due: at ``next_send`` (flush interval or retry backoff); back to back while a full
        batch is buffered or flush()/close() wait for the buffer to drain, unless backing off (a
        struggling server gets no extra load); and once at once after each flush()/close() call,
        even while backing off, so that a server that came back is not missed for a long backoff.
        """
        while True:
            now = time.monotonic()
            if self._deadline is not None and (not self._lines or now >= self._deadline):
                return None
            if self._lines:
                hurry = self._draining or len(self._lines) >= self.config.batch_size
                if now >= next_send or self._kick or (hurry and not backing_off):
                    break
                until = next_send if self._deadline is None else min(next_send, self._deadline)
                self._cond.wait(until - now)
            else:
                self._draining = False
                self._cond.wait(None if self._deadline is None else self._deadline - now)
        self._kick = False
        n = min(self.config.batch_size, len(self._lines))
        self._sending, self._lost_in_flight = n, 0
        return list(islice(self._lines, n))

    def _settle(self, n: int, outcome: Outcome) -> None:
        """Account for a finished POST of the first ``n`` buffered lines (lock held)."""
        if self._abandoned:
            return  # close() gave up waiting and already counted these lines
        lost, self._sending, self._lost_in_flight = self._lost_in_flight, 0, 0
        if outcome.kind == "retry":
            self._retries += 1
            self._last_error = outcome.message
            return
        for _ in range(n - lost):
            self._lines.popleft()
        refused = 0
        if outcome.kind == "reject":
            refused = n if outcome.dropped is None else min(outcome.dropped, n)
            self._failed += 1
            self._last_error = outcome.message
            if outcome.message != self._last_reject:  # a missing database would repeat forever
                log.warning(
                    "InfluxDB refused a batch of %d points (%d dropped, not retried): %s",
                    n, refused, outcome.message,
                )
            self._last_reject = outcome.message
        self._written += n - refused
        # `lost` were counted as dropped on overflow although they reached the server.
        self._dropped += refused - lost
