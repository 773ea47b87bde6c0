"""Points of the load side other than ``tokenswarm_load``: requests, events, load processes.

No locust import: everything here is plain data in, :class:`Point` out.

- ``tokenswarm_request``: one point per finished request, stamped at its completion
  (``end_wall_ns``: when its TTFT/E2E became known). Points with the same measurement, tag set
  and timestamp overwrite each other in InfluxDB (a third of the points were lost that way with
  millisecond stamps, DESIGN.md section 5), so each series' stamps are kept strictly
  increasing: a collision is moved 1 ns later.
- ``tokenswarm_event``: run/stage start and stop, for Grafana annotations.
- ``host`` with ``role=loadgen``: CPU of this load process and of its host, from CPU-time
  deltas taken here (not ``psutil.cpu_percent``, whose shared state another caller in the
  process would reset).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import psutil

from tokenswarm.collector import RequestRecord
from tokenswarm.influx import schema
from tokenswarm.influx.point import Point
from tokenswarm.stages import StageInfo

WARMUP_STAGE = "warmup"


class RequestPoints:
    """Builds ``tokenswarm_request`` points for one load process."""

    def __init__(self, run_id: str, engine: str, model: str, endpoint: str, worker: str) -> None:
        self.base = {
            "run_id": run_id,
            "engine": engine,
            "model": model,
            "endpoint": endpoint,
            "worker": worker,
        }
        self.stage_names: dict[int, str] = {}
        self._last_ns: dict[tuple[str, str, str], int] = {}

    def point(self, record: RequestRecord, users: int) -> Point:
        timing = record.timing
        stage = (
            WARMUP_STAGE
            if record.stage is None
            else self.stage_names.get(record.stage, str(record.stage))
        )
        status = "ok" if record.ok else str(record.error_class)
        key = (record.scenario, stage, status)  # the other tags are fixed per process
        stamp = max(record.end_wall_ns, self._last_ns.get(key, 0) + 1)
        self._last_ns[key] = stamp
        tags = {**self.base, "scenario": record.scenario, "stage": stage, "status": status}
        fields = {
            "ttft_ms": timing.ttft_ms if timing else None,
            "tpot_ms": timing.tpot_ms if timing else None,
            "itl_mean_ms": timing.itl_mean_ms if timing else None,
            "itl_max_ms": timing.itl_max_ms if timing else None,
            "e2e_ms": timing.e2e_ms if timing else None,
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "users": users,
        }
        return Point(schema.REQUEST.name, tags, fields, stamp)


def event(
    run_id: str,
    kind: str,
    time_ns: int,
    text: str,
    stage: StageInfo | None = None,
) -> Point:
    """One annotation point; ``kind`` is run_start, stage_start, stage_measure, stage_stop or
    run_stop."""
    fields = {
        "text": text,
        "stage": stage.name if stage else None,
        "users": stage.users if stage else None,
    }
    return Point(schema.EVENT.name, {"run_id": run_id, "kind": kind}, fields, time_ns)


def stage_events(run_id: str, stage: StageInfo) -> list[Point]:
    """``stage_start`` (and ``stage_measure`` where a warm-up precedes the measured window)."""
    text = (
        f"{stage.name}: {stage.users} users, {stage.input_tokens} in / "
        f"{stage.output_tokens} out tokens"
    )
    points = [event(run_id, "stage_start", stage.started_ns, text, stage)]
    if stage.measure_from_ns > stage.started_ns:
        points.append(
            event(
                run_id,
                "stage_measure",
                stage.measure_from_ns,
                f"{stage.name}: warm-up over, measuring",
                stage,
            )
        )
    return points


def host_name() -> str:
    return socket.gethostname().split(".")[0]


class ProcessSampler:
    """``host`` points (role loadgen) for this process: process and host CPU % since the
    previous sample (process: 100 = one core busy; host: all cores), memory, load average."""

    def __init__(self, run_id: str, worker: str,
                 loop_lag_p99_ms: Callable[[], float | None] = lambda: None) -> None:
        """``loop_lag_p99_ms``: this process's event-loop lag p99 since the last sample (the
        health monitor's; None on a master, which runs no users)."""
        self.tags = {"run_id": run_id, "host": host_name(), "role": "loadgen", "worker": worker}
        self._loop_lag_p99_ms = loop_lag_p99_ms
        self._process = psutil.Process()
        self._last = self._read()

    def _read(self) -> tuple[float, float, float, float]:
        cpu = self._process.cpu_times()
        host = psutil.cpu_times()
        # Linux counts guest time inside user/nice as well: leave it out of the total once.
        total = sum(host) - getattr(host, "guest", 0.0) - getattr(host, "guest_nice", 0.0)
        idle = host.idle + getattr(host, "iowait", 0.0)
        return time.monotonic(), cpu.user + cpu.system, total - idle, total

    def sample(self, time_ns: int) -> Point:
        now = self._read()
        (t0, proc0, busy0, total0), (t1, proc1, busy1, total1) = self._last, now
        self._last = now
        mem = psutil.virtual_memory()
        fields = {
            "process_cpu_pct": round(100.0 * (proc1 - proc0) / (t1 - t0), 2) if t1 > t0 else None,
            "cpu_pct": round(100.0 * (busy1 - busy0) / (total1 - total0), 2)
            if total1 > total0
            else None,
            "mem_used_bytes": int(mem.total - mem.available),
            "mem_total_bytes": int(mem.total),
            "load1": float(os.getloadavg()[0]),
            "loop_lag_p99_ms": self._loop_lag_p99_ms(),
        }
        return Point(schema.HOST.name, self.tags, fields, time_ns)
