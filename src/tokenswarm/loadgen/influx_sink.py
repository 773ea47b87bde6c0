"""The load side's InfluxDB sink: Locust wiring for requests, load, events and process CPU.

Enabled by ``--influx-url`` (env ``TOKENSWARM_INFLUX_URL``; the other ``--influx-*`` options
likewise). Every process has one :class:`~tokenswarm.influx.writer.InfluxWriter` (bounded
buffer, one background greenlet doing plain HTTP POSTs, drops counted): a request greenlet only
encodes and appends, it never waits for InfluxDB.

- load processes (workers, local runner): one ``tokenswarm_request`` point per finished request
  (``RUNTIME.record_listeners``);
- the results process (master, local runner): ``tokenswarm_load`` every second from the merged
  deltas (``RUNTIME.delta_listeners``, see influx_load.py) and ``tokenswarm_event`` points at
  run and stage start/stop (``RUNTIME.stage_listeners``);
- every process: a ``host`` point (role loadgen) with its CPU each second.

Workers report to the master every second while the sink is on (Locust's default is 3 s), so
each second of ``tokenswarm_load`` has its data 1.5 s after it ended. At the end each worker
closes its writer (at most CLOSE_TIMEOUT_S: a dead InfluxDB must not hold the run) and sends
its counters to the master, whose summary hook adds ``summary["influx"]`` (:func:`summary_block`).

Start-up: a wrong setting, a missing database or a v2 request to a 1.x server stop the run with
one line (exit 2); an unreachable server is a warning (points are buffered and sent once it
answers) unless ``--influx-required``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
import locust.runners
from locust import events
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from tokenswarm.collector import RequestRecord
from tokenswarm.errors import UserError
from tokenswarm.grafana import print_run_link
from tokenswarm.influx.writer import InfluxWriter
from tokenswarm.loadgen import health_listeners, listeners
from tokenswarm.loadgen.context import worker_name
from tokenswarm.loadgen.influx_load import LoadSeries
from tokenswarm.loadgen.influx_options import check_server, fatal, influx_config
from tokenswarm.loadgen.influx_points import ProcessSampler, RequestPoints, event, stage_events
from tokenswarm.loadgen.runtime import RUNTIME
from tokenswarm.stages import StageInfo

log = logging.getLogger("tokenswarm")
REPORT_INTERVAL_S = 1.0
LAG_MARGIN_S = 0.5
CLOSE_TIMEOUT_S = 2.0
STATS_MESSAGE = "tokenswarm_influx_stats"
RUN_ID_OPTION = "tokenswarm_influx_run_id"


@dataclass
class Sink:
    """One process's sink for one run."""

    writer: InfluxWriter
    run_id: str
    runner: Any
    sampler: ProcessSampler
    requests: RequestPoints | None = None  # load processes
    load: LoadSeries | None = None  # results process
    stage: StageInfo | None = None  # results process: the stage whose events were written
    worker_stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    block: dict[str, Any] | None = None
    closed: bool = False


SINK: Sink | None = None


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    if isinstance(runner, MasterRunner):
        runner.register_message(STATS_MESSAGE, _on_stats_message)
    if isinstance(runner, WorkerRunner):
        return
    try:
        config = influx_config(environment.parsed_options)
    except UserError as exc:
        fatal(str(exc))
    if config is not None:
        check_server(config, getattr(environment.parsed_options, "influx_required", False))


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    global SINK
    runner = environment.runner
    if SINK is not None and not SINK.closed:
        _close(SINK)
    SINK = None
    try:
        config = influx_config(environment.parsed_options)
    except UserError as exc:  # a worker given bad settings: the master already checked its own
        log.error("tokenswarm: InfluxDB sink off: %s", exc)
        return
    if config is None:
        return
    results = RUNTIME.run if isinstance(runner, (MasterRunner, LocalRunner)) else None
    if results is not None:
        run_id = results.run_id
        setattr(environment.parsed_options, RUN_ID_OPTION, run_id)  # rides the spawn message
    else:
        run_id = getattr(environment.parsed_options, RUN_ID_OPTION, "") or ""
        locust.runners.WORKER_REPORT_INTERVAL = REPORT_INTERVAL_S
    writer = InfluxWriter(config)
    writer.start()
    sink = Sink(writer, run_id, runner, ProcessSampler(run_id, worker_name(), _loop_lag_p99_ms))
    if isinstance(runner, (WorkerRunner, LocalRunner)) and RUNTIME.context is not None:
        ctx = RUNTIME.context
        sink.requests = RequestPoints(
            run_id, ctx.profile.name, ctx.model, _endpoint(environment), worker_name()
        )
    if results is not None:
        local = isinstance(runner, LocalRunner)
        report_s = listeners.LOCAL_FLUSH_S if local else REPORT_INTERVAL_S
        sink.load = LoadSeries(
            run_id,
            results.started_ns,
            report_s + LAG_MARGIN_S,
            lambda ns: RUNTIME.timeline.locate(ns)[0],
        )
        writer.write([event(run_id, "run_start", results.started_ns, f"run {run_id}")])
    SINK = sink
    for stage in RUNTIME.timeline.stages:  # started before this listener ran
        _on_stage(stage)
    gevent.spawn(_tick_loop, sink)


def _endpoint(environment: Any) -> str:
    kinds = {getattr(c, "chat", True) for c in environment.user_classes}
    return "chat" if kinds == {True} else "completions" if kinds == {False} else "mixed"


def _tick_loop(sink: Sink) -> None:
    """Each second, half a second past the full second: process CPU, due load seconds."""
    while not sink.closed:
        to_half_s = (1_500_000_000 - time.time_ns() % 1_000_000_000) % 1_000_000_000
        gevent.sleep(to_half_s / 1e9 or 1.0)
        if sink.closed:
            return
        now = time.time_ns()
        points = [sink.sampler.sample(now)]
        if sink.load is not None:
            sink.load.note(now, sink.runner.user_count)
            points += sink.load.due(now)
        sink.writer.write(points)


def _on_record(record: RequestRecord) -> None:
    sink = SINK
    if sink is not None and sink.requests is not None:
        sink.writer.write([sink.requests.point(record, sink.runner.user_count)])


def _on_stage(stage: StageInfo) -> None:
    sink = SINK
    if sink is None:
        return
    if sink.requests is not None:
        sink.requests.stage_names[stage.index] = stage.name
    if sink.load is None or (sink.stage is not None and sink.stage.index >= stage.index):
        return
    points = stage_events(sink.run_id, stage)
    if sink.stage is not None:
        points.append(
            event(
                sink.run_id, "stage_stop", stage.started_ns, f"{sink.stage.name} ended", sink.stage
            )
        )
    sink.stage = stage
    sink.writer.write(points)


def _on_delta(delta: dict[str, Any]) -> None:
    sink = SINK
    if sink is not None and sink.load is not None:
        sink.load.absorb(delta)


def _close(sink: Sink) -> dict[str, Any]:
    """Stop the tick loop, write the last points and close the writer; this process's
    counters."""
    sink.closed = True
    now = time.time_ns()
    points = [sink.sampler.sample(now)]
    run = RUNTIME.run
    if sink.load is not None:
        points += sink.load.flush(now)
        if sink.stage is not None:
            stop_ns = run.stop_ns if run is not None and run.stop_ns else now
            points.append(
                event(sink.run_id, "stage_stop", stop_ns, f"{sink.stage.name} ended", sink.stage)
            )
        points.append(event(sink.run_id, "run_stop", now, f"run {sink.run_id} ended"))
    sink.writer.write(points)
    stats = sink.writer.close(CLOSE_TIMEOUT_S)
    return {
        "points_written": stats.points_written,
        "points_dropped": stats.points_dropped,
        "errors": stats.batches_failed,
        "last_error": stats.last_error,
    }


def _on_stats_message(environment: Any, msg: Any, **_: Any) -> None:
    """Master: a worker's writer counters (sent after its writer closed)."""
    if SINK is not None:
        SINK.worker_stats[msg.node_id] = msg.data


def summary_block() -> dict[str, Any] | None:
    """``summary["influx"]`` on the results process: closes this process's writer (once) and
    adds the workers' counters. ``{"url", "points_written", "points_dropped", "errors",
    "last_error", "processes", "workers_unreported"}``; None when the sink is off."""
    sink = SINK
    if sink is None:
        return None
    if sink.block is not None:
        return sink.block
    own = _close(sink)
    run = RUNTIME.run
    expected = set(run.finals_from) if run is not None else set()
    deadline = time.monotonic() + CLOSE_TIMEOUT_S + 1.0
    while not expected <= set(sink.worker_stats) and time.monotonic() < deadline:
        gevent.sleep(0.05)
    parts = [own, *sink.worker_stats.values()]
    block: dict[str, Any] = {
        "url": sink.writer.config.base_url,
        **{
            k: sum(int(p.get(k, 0)) for p in parts)
            for k in ("points_written", "points_dropped", "errors")
        },
        "last_error": next((p["last_error"] for p in parts if p.get("last_error")), ""),
        "processes": len(parts),
        "workers_unreported": sorted(expected - set(sink.worker_stats)),
    }
    level = logging.WARNING if block["points_dropped"] or block["errors"] else logging.INFO
    log.log(
        level,
        "tokenswarm: InfluxDB %s: %d points written, %d dropped%s",
        block["url"],
        block["points_written"],
        block["points_dropped"],
        f" (last error: {block['last_error']})" if block["last_error"] else "",
    )
    sink.block = block
    return block


def _loop_lag_p99_ms() -> float | None:
    monitor = health_listeners.MONITOR
    return None if monitor is None else monitor.snapshot()["loop_lag_p99_ms"]


def _on_summary(summary: dict[str, Any]) -> None:
    """The influx block of summary.json, and the run's Grafana link printed (whatever started
    the run: tokenswarm run/sweep/master, plain locust)."""
    block = summary_block()
    if block is not None:
        summary["influx"] = block
        print_run_link(summary)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    """Workers: close the writer and send the counters. Results process: normally done in the
    summary hook already; this closes the writer when no summary was written."""
    sink = SINK
    if sink is None or sink.closed:
        return
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.send_message(STATS_MESSAGE, _close(sink))
    else:
        summary_block()


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    sink = SINK
    if sink is not None and not sink.closed:
        _close(sink)


RUNTIME.record_listeners.append(_on_record)
RUNTIME.stage_listeners.append(_on_stage)
RUNTIME.delta_listeners.append(_on_delta)
RUNTIME.summary_hooks.append(_on_summary)
