"""Load-process health: event-loop lag and CPU over time, and the timing error bound they allow.

Why: a client short of CPU stamps tokens late, so its TTFT/ITL drift upward while the server is
fine (DESIGN.md section 5; benchmarks/client_capacity.py). Every load process therefore
measures itself while it runs, and the summary states what its timings can be trusted to.

Measurement (one greenlet per load process, :class:`HealthMonitor`):

- loop lag: every ``LAG_INTERVAL_S`` the greenlet makes its own socket readable (one byte
  through a socketpair), waits for the hub to wake it and then yields once more, so it resumes
  after every greenlet woken in the same loop iteration: ``t_resumed - t_written`` is how long
  the last of a burst of ready sockets waits for the loop, i.e. how late a userspace clock
  stamps a token (kernel receive stamps, :mod:`tokenswarm.kernel_timestamps`, remove most of
  it, but not for events that queue behind each other in one read). A greenlet that never
  yields would also starve the timer that starts a probe, so each sample (ms, in a
  :class:`~tokenswarm.histograms.Histogram`) is the larger of the probe's wait and the timer's
  oversleep less ``TIMER_ROUNDING_MS`` (libev's epoll wait rounds timeouts up to whole
  milliseconds: an idle loop oversleeps by up to 1 ms);
- CPU: ``process CPU seconds / wall seconds * 100`` per ``CPU_PERIOD_S`` (one core = 100 %).

``drain()`` returns what was measured since the previous drain as one wire dict (JSON/msgpack
friendly, per worker, carried in the worker's delta); :func:`summarise` turns the samples of all
workers inside a window into the per-stage verdict. Thresholds (from the benchmark, 2-core VM,
2026-11-26, and the prototype figures in DESIGN.md): p99 timing error stayed under 1 ms while
a client process used less than ~50-60 % of its core, reached 3-7 ms at 70-75 % and 20 ms or more
above 80 %; a saturated process is one whose loop lag p99 exceeds ``LAG_LIMIT_MS`` or whose CPU
exceeded ``CPU_LIMIT_PCT`` in any period.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import gevent
from gevent import get_hub

from tokenswarm.histograms import Histogram
from tokenswarm.kernel_timestamps import CONNECTIONS

LAG_INTERVAL_S = 0.025
CPU_PERIOD_S = 1.0
CPU_LIMIT_PCT = 60.0
LAG_LIMIT_MS = 1.0
# With kernel receive stamps the lag delays reading, not stamping: it matters only where it
# comes near the gap between two tokens of one stream (two events read together share the later
# stamp), so the limit is half the stage's ITL p50, or 5 ms when that is unknown.
LAG_LIMIT_KERNEL_MS = 5.0
KERNEL_LIMIT_ITL_SHARE = 0.5
TIMER_ROUNDING_MS = 1.0  # libev's epoll wait rounds timeouts up to whole milliseconds


class HealthMonitor:
    """Measures this process's loop lag and CPU; ``drain()`` ships the samples."""

    def __init__(
        self, worker: str, interval_s: float = LAG_INTERVAL_S, cpu_period_s: float = CPU_PERIOD_S
    ) -> None:
        self.worker = worker
        self.interval_s = interval_s
        self.cpu_period_s = cpu_period_s
        self._greenlet: gevent.Greenlet | None = None
        self._reset(time.time_ns())
        self._cpu_mark = (time.perf_counter_ns(), time.process_time_ns())
        self.last_cpu_pct: float | None = None

    def _reset(self, now_wall_ns: int) -> None:
        self._from_ns = now_wall_ns
        self._lag = Histogram()
        self._cpu: list[list[float]] = []  # [wall_ns, cpu_pct] per CPU period

    def start(self) -> HealthMonitor:
        """Start measuring (idempotent)."""
        if self._greenlet is None or self._greenlet.dead:
            self._cpu_mark = (time.perf_counter_ns(), time.process_time_ns())
            self._greenlet = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None

    def _run(self) -> None:
        period_ns = int(self.cpu_period_s * 1e9)
        perf, sleep, record = time.perf_counter_ns, gevent.sleep, self._lag_record
        writer, reader = socket.socketpair()  # gevent-patched or not: used non-blocking
        writer.setblocking(False)
        reader.setblocking(False)
        hub = get_hub()
        watcher = hub.loop.io(reader.fileno(), 1)
        interval_ns = int(self.interval_s * 1e9)
        try:
            while True:
                slept = perf()
                sleep(self.interval_s)
                before = perf()
                writer.send(b".")
                hub.wait(watcher)  # the loop got round to the readable socket...
                sleep(0)  # ...and to every greenlet woken in the same iteration
                after = perf()
                reader.recv(64)
                late = (before - slept - interval_ns) / 1e6 - TIMER_ROUNDING_MS
                record(max((after - before) / 1e6, late))
                if after - self._cpu_mark[0] >= period_ns:
                    self._cpu_sample(after)
        finally:
            watcher.close()
            writer.close()
            reader.close()

    def _lag_record(self, lag_ms: float) -> None:
        self._lag.record(lag_ms)

    def _cpu_sample(self, now_perf_ns: int) -> None:
        cpu_ns = time.process_time_ns()
        wall0, cpu0 = self._cpu_mark
        self.last_cpu_pct = 100.0 * (cpu_ns - cpu0) / (now_perf_ns - wall0)
        self._cpu.append([time.time_ns(), self.last_cpu_pct])
        self._cpu_mark = (now_perf_ns, cpu_ns)

    def snapshot(self) -> dict[str, float | None]:
        """For a live progress line: CPU % of the last period, loop lag p99 since the drain."""
        return {"cpu_pct": self.last_cpu_pct, "loop_lag_p99_ms": self._lag.percentile(99.0)}

    def drain(self) -> dict[str, Any]:
        """Samples since the previous drain: ``{"worker", "from_ns", "to_ns", "lag": Histogram
        wire (ms), "cpu": [[wall_ns, cpu_pct], ...], "kernel_ts": every connection so far had
        kernel receive stamps}``; resets the monitor's window."""
        now = time.time_ns()
        out = {
            "worker": self.worker,
            "from_ns": self._from_ns,
            "to_ns": now,
            "lag": self._lag.to_wire(),
            "cpu": self._cpu,
            "kernel_ts": CONNECTIONS["kernel"] > 0 and CONNECTIONS["userspace"] == 0,
        }
        self._reset(now)
        return out


class HealthLog:
    """On the results process: every load process's drained samples, from the merged deltas
    (``delta["health"]`` is a list of :meth:`HealthMonitor.drain` dicts)."""

    def __init__(self) -> None:
        self.samples: list[dict[str, Any]] = []

    def on_delta(self, delta: dict[str, Any]) -> None:
        """A ``RUNTIME.delta_listeners`` entry."""
        self.samples.extend(delta.get("health") or ())

    def summarise(self, window: tuple[int, int], itl_p50_ms: float | None = None) -> dict[str, Any]:
        return summarise(self.samples, window, itl_p50_ms)


def summarise(
    samples: list[dict[str, Any]], window: tuple[int, int], itl_p50_ms: float | None = None
) -> dict[str, Any]:
    """The health of all load processes over ``window`` = (start_ns, end_ns) wall clock.

    A drained sample counts when its span's midpoint is inside the window; CPU periods count
    when their end is. Returns cpu_pct_max/mean (over periods of all workers), the loop lag
    p99/max of the merged histograms, ``timing_error_bound_ms`` (= loop lag p99: how late a
    ready token could be stamped for 99 % of the time by a userspace clock; with kernel stamps,
    ``kernel_timestamps`` true, an upper bound reached only where the lag exceeds the gap
    between two tokens of a stream), ``saturated`` (CPU above ``CPU_LIMIT_PCT``, or lag p99
    above ``lag_limit_ms``: ``LAG_LIMIT_MS``; with kernel stamps ``KERNEL_LIMIT_ITL_SHARE`` of
    ``itl_p50_ms`` when given, else ``LAG_LIMIT_KERNEL_MS``) and ``advice``.
    """
    start, end = window
    lag = Histogram()
    cpu: list[float] = []
    per_worker: dict[str, dict[str, Any]] = {}
    kernel_ts = True
    for sample in samples:
        mid = (sample["from_ns"] + sample["to_ns"]) // 2
        worker = per_worker.setdefault(sample["worker"], {"lag": Histogram(), "cpu": []})
        if start <= mid <= end:
            hist = Histogram.from_wire(sample["lag"])
            lag.merge(hist)
            worker["lag"].merge(hist)
            kernel_ts = kernel_ts and bool(sample.get("kernel_ts"))
        periods = [pct for wall_ns, pct in sample["cpu"] if start < wall_ns <= end]
        cpu.extend(periods)
        worker["cpu"].extend(periods)
    if not lag.count and not cpu:
        return {
            "cpu_pct_max": None,
            "cpu_pct_mean": None,
            "loop_lag_p99_ms": None,
            "loop_lag_max_ms": None,
            "timing_error_bound_ms": None,
            "saturated": False,
            "advice": "no load-process health samples in this window",
            "workers": 0,
            "kernel_timestamps": False,
            "lag_limit_ms": None,
        }
    lag_p99 = lag.percentile(99.0)
    cpu_max = max(cpu) if cpu else None
    out: dict[str, Any] = {
        "cpu_pct_max": cpu_max,
        "cpu_pct_mean": sum(cpu) / len(cpu) if cpu else None,
        "loop_lag_p99_ms": lag_p99,
        "loop_lag_max_ms": lag.max_ms if lag.count else None,
        "timing_error_bound_ms": lag_p99,
        "workers": len(per_worker),
        "kernel_timestamps": kernel_ts and lag.count > 0,
    }
    lag_limit = LAG_LIMIT_MS
    if out["kernel_timestamps"]:
        lag_limit = LAG_LIMIT_KERNEL_MS
        if itl_p50_ms:
            lag_limit = max(LAG_LIMIT_MS, KERNEL_LIMIT_ITL_SHARE * itl_p50_ms)
    out["lag_limit_ms"] = lag_limit
    out["saturated"] = bool(
        (lag_p99 is not None and lag_p99 > lag_limit)
        or (cpu_max is not None and cpu_max > CPU_LIMIT_PCT)
    )
    out["advice"] = _advice(out, per_worker)
    return out


def _advice(out: dict[str, Any], per_worker: dict[str, dict[str, Any]]) -> str:
    def worst(name: str, data: dict[str, Any]) -> tuple[float, float]:
        return (max(data["cpu"], default=0.0), data["lag"].percentile(99.0) or 0.0)

    name, data = max(per_worker.items(), key=lambda item: worst(*item))
    cpu_w, lag_w = worst(name, data)
    bound = out["timing_error_bound_ms"]
    lag_limit = out["lag_limit_ms"]
    if not out["saturated"]:
        stamps = (
            "kernel receive stamps: token times do not wait for the loop"
            if out["kernel_timestamps"]
            else "timings good to about that"
        )
        return (
            f"load generator healthy: CPU max {out['cpu_pct_max'] or 0:.0f}% per process, "
            f"event-loop lag p99 {bound or 0:.2f} ms ({stamps})"
        )
    effect = f"TTFT/ITL may be inflated by up to ~{bound or 0:.1f} ms"
    if cpu_w > CPU_LIMIT_PCT:
        return (
            f"load generator saturated: {name} at {cpu_w:.0f}% CPU, event-loop lag p99 "
            f"{lag_w:.2f} ms (limits {CPU_LIMIT_PCT:.0f}%, {lag_limit:g} ms): {effect}; add "
            "worker processes or hosts, or run fewer users per process"
        )
    return (
        f"load generator delayed: {name}'s event loop lagged {lag_w:.2f} ms at p99 (limit "
        f"{lag_limit:g} ms) while it used only {cpu_w:.0f}% CPU: other processes on its host "
        f"compete for the CPU (or a call blocked the loop); {effect}"
    )
