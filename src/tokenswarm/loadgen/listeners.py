"""Locust event wiring: options, preflight, run start, delta shipping and results.

Importing this module registers the listeners (locustfiles import it). Flow:

- ``init`` (master/local): validate options and check the target; a user mistake prints one
  line and exits 2 before any load. The resolved model goes into ``parsed_options`` so that
  workers receive it with the spawn message.
- ``test_start``: the results process opens ``results/<run_id>/`` and broadcasts the run id
  and the warm-up end (one wall-clock instant for all workers); load processes build their
  LoadContext (prompts, tokenizer) before users start.
- every report (3 s) and at ``test_stop``: deltas of the process collector reach the
  aggregate (``report_to_master`` + a final ``tokenswarm_final`` message on workers; a
  local greenlet in single-process runs).
- the master writes results once every worker's final delta arrived (see finals.py; workers
  that never report are named in the summary); ``quitting`` makes sure it happened.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import gevent
import locust
from locust import events
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from tokenswarm.errors import UserError
from tokenswarm.loadgen.context import worker_name
from tokenswarm.loadgen.finals import collect_worker_finals, on_final_message, on_stop_message
from tokenswarm.loadgen.options import (
    LoadOptions,
    check_inputs,
    default_run_id,
    register_arguments,
)
from tokenswarm.loadgen.progress import progress_loop
from tokenswarm.loadgen.runtime import RUNTIME
from tokenswarm.preflight import check_target
from tokenswarm.profiles import detect_profile
from tokenswarm.stages import StageInfo

log = logging.getLogger("tokenswarm")
if os.environ.get("TOKENSWARM_QUIET_LOCUST"):
    # tokenswarm run|sweep start Locust with --loglevel WARNING (no per-spawn chatter) but
    # keep tokenswarm's own progress and stage lines
    log.setLevel(logging.INFO)
LOCAL_FLUSH_S = 1.0
FINALS_GRACE_S = 10.0


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    register_arguments(parser)


def fatal(message: str) -> None:
    print(f"tokenswarm: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    if isinstance(runner, WorkerRunner):
        runner.register_message("tokenswarm_run", _on_run_message)
        runner.register_message("tokenswarm_stage", _on_stage_message)
        runner.register_message("tokenswarm_stop", on_stop_message, concurrent=True)
        return
    if isinstance(runner, MasterRunner):
        runner.register_message("tokenswarm_final", on_final_message)
    try:
        opts = LoadOptions.from_namespace(environment.parsed_options)
        check_inputs(opts)
        host = environment.host or environment.parsed_options.host
        if host:
            target = check_target(host, opts.model, opts.api_key)
            # resolved once here; workers receive both with the spawn message
            environment.parsed_options.model = target.model
            if opts.engine == "auto":
                environment.parsed_options.engine = detect_profile(target.owned_by).name
        elif getattr(environment.parsed_options, "headless", False):
            raise UserError("no target: pass --host (e.g. --host http://127.0.0.1:8000)")
    except UserError as exc:
        fatal(str(exc))


def _on_run_message(environment: Any, msg: Any, **_: Any) -> None:
    """Worker: a new run begins (its stages so far replace the previous run's)."""
    RUNTIME.timeline.clear()
    for wire in msg.data["stages"]:
        RUNTIME.apply_stage(StageInfo.from_wire(wire))


def _on_stage_message(environment: Any, msg: Any, **_: Any) -> None:
    RUNTIME.apply_stage(StageInfo.from_wire(msg.data))


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, (MasterRunner, LocalRunner)):
        _begin_run(environment)
        if getattr(environment.parsed_options, "headless", False):
            gevent.spawn(progress_loop, environment, _time_left(environment))
    if isinstance(runner, WorkerRunner) and RUNTIME.stage is None:
        wire = getattr(environment.parsed_options, "tokenswarm_stage", None)
        if wire:
            RUNTIME.apply_stage(StageInfo.from_wire(wire))
    if isinstance(runner, (WorkerRunner, LocalRunner)):
        try:
            RUNTIME.build_context(environment)
        except UserError as exc:
            log.error("tokenswarm: error: %s", exc)
            environment.process_exit_code = 2
            runner.quit()
            return
        # long-lived objects (prompts, tokenizer) leave the collector's scans: shorter GC
        # pauses while streams are being timed (DESIGN.md section 5)
        gc.collect()
        gc.freeze()
    if isinstance(runner, LocalRunner):
        gevent.spawn(_local_flush_loop)


def _time_left(environment: Any) -> Callable[[float], float | None]:
    shape = environment.shape_class
    if getattr(shape, "plan", None) is not None:
        return lambda _elapsed: shape.time_left_s()
    run_time = getattr(environment.parsed_options, "run_time", None)
    return lambda elapsed: max(run_time - elapsed, 0.0) if run_time else None


@events.spawning_complete.add_listener
def _on_spawning_complete(**_: Any) -> None:
    """Load processes: the users just spawned leave the collector's full scans too (with
    thousands of users a full collection paused a worker 150-570 ms, benchmarks/max_streams)."""
    gc.freeze()


def _begin_run(environment: Any) -> None:
    opts = LoadOptions.from_namespace(environment.parsed_options)
    run_id = opts.run_id or default_run_id()
    po = environment.parsed_options
    shape = environment.shape_class
    plan = getattr(shape, "plan", None)  # a sweep shape: it starts (and started) the stages
    if plan is None:
        RUNTIME.timeline.clear()
        now = time.time_ns()
        start_stage(environment, StageInfo(
            index=0,
            name=opts.scenario or "run",
            scenario=opts.scenario or "custom",
            users=int(getattr(po, "num_users", 0) or 0),
            input_tokens=opts.input_tokens,
            output_tokens=opts.output_tokens,
            started_ns=now,
            measure_from_ns=now + int(opts.warmup * 1e9),
        ))
    config = {
        **opts.snapshot(),
        **(plan.config_snapshot() if plan is not None else {"kind": "run"}),
        "run_id": run_id,
        "host": environment.host or po.host,
        "users": getattr(po, "num_users", None),
        "spawn_rate": getattr(po, "spawn_rate", None),
        "run_time": getattr(po, "run_time", None),
        "user_classes": sorted(environment.user_classes_by_name),
        "stop_timeout": environment.stop_timeout,
    }
    run = RUNTIME.begin(opts, run_id, config, slo=plan.slo if plan is not None else None)
    log.info("tokenswarm: run %s, results in %s", run_id, run.run_dir)
    if isinstance(environment.runner, MasterRunner):
        stages = [s.to_wire() for s in RUNTIME.timeline.stages]
        environment.runner.send_message("tokenswarm_run", {"run_id": run_id, "stages": stages})


def start_stage(environment: Any, info: StageInfo) -> None:
    """Driving process: start a stage here and on every worker. The stage also rides in
    ``parsed_options`` (sent with every spawn message), so a worker that joins later learns
    it at its test_start."""
    RUNTIME.apply_stage(info)
    if environment.parsed_options is not None:
        environment.parsed_options.tokenswarm_stage = info.to_wire()
    if isinstance(environment.runner, MasterRunner):
        environment.runner.send_message("tokenswarm_stage", info.to_wire())


def _local_flush_loop() -> None:
    run = RUNTIME.run
    while run is not None and not run.finished:
        gevent.sleep(LOCAL_FLUSH_S)
        if not run.finished:
            RUNTIME.absorb(RUNTIME.collector.drain(), worker_name())


@events.report_to_master.add_listener
def _on_report_to_master(client_id: str, data: dict[str, Any], **_: Any) -> None:
    data["tokenswarm"] = RUNTIME.collector.drain()


@events.worker_report.add_listener
def _on_worker_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    delta = data.get("tokenswarm")
    if delta:
        RUNTIME.absorb(delta, client_id)


@events.test_stopping.add_listener
def _on_test_stopping(environment: Any, **_: Any) -> None:
    """The window ends when the stop begins, not after in-flight requests drained."""
    run = RUNTIME.run
    if run is not None and not run.finished and not run.stop_ns:
        run.stop_ns = time.time_ns()


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message("tokenswarm_final", RUNTIME.collector.drain())
        return
    run = RUNTIME.run
    if run is None or run.finished:
        return
    if isinstance(runner, LocalRunner):
        RUNTIME.absorb(RUNTIME.collector.drain(), worker_name())
    elif isinstance(runner, MasterRunner):
        collect_worker_finals(runner, run, environment.stop_timeout + FINALS_GRACE_S,
                              environment.stop_timeout)
    RUNTIME.finish(locust.__version__)


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    """Safety net: a run that never saw test_stop still gets its results written."""
    run = RUNTIME.run
    if run is not None and not run.finished and not isinstance(environment.runner, WorkerRunner):
        RUNTIME.finish(locust.__version__)
