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
- the master writes results once every worker's final delta arrived (or after a grace
  period, logging which workers were lost); ``quitting`` makes sure it happened.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from typing import Any

import gevent
import locust
from locust import events
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from tokenswarm.errors import UserError
from tokenswarm.loadgen.context import worker_name
from tokenswarm.loadgen.options import LoadOptions, default_run_id, register_arguments
from tokenswarm.loadgen.progress import progress_loop
from tokenswarm.loadgen.runtime import RUNTIME
from tokenswarm.preflight import check_target
from tokenswarm.tokenizer import resolve_tokenizer_file

log = logging.getLogger("tokenswarm")
LOCAL_FLUSH_S = 2.0
FINALS_GRACE_S = 10.0


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    register_arguments(parser)


def _fatal(message: str) -> None:
    print(f"tokenswarm: error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    if isinstance(runner, WorkerRunner):
        runner.register_message("tokenswarm_run", _on_run_message)
        return
    if isinstance(runner, MasterRunner):
        runner.register_message("tokenswarm_final", _on_final_message)
    if isinstance(runner, LocalRunner):
        runner.register_message("tokenswarm_run", _on_run_message)
    try:
        opts = LoadOptions.from_namespace(environment.parsed_options)
        if opts.tokenizer:
            resolve_tokenizer_file(opts.tokenizer)
        host = environment.host or environment.parsed_options.host
        if host:
            target = check_target(host, opts.model, opts.api_key)
            environment.parsed_options.model = target.model
    except UserError as exc:
        _fatal(str(exc))


def _on_run_message(environment: Any, msg: Any, **_: Any) -> None:
    RUNTIME.collector.measure_from_ns = int(msg.data["measure_from_ns"])


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, (MasterRunner, LocalRunner)):
        _begin_run(environment)
        if getattr(environment.parsed_options, "headless", False):
            gevent.spawn(progress_loop, environment)
    if isinstance(runner, (WorkerRunner, LocalRunner)):
        try:
            RUNTIME.build_context(environment)
        except UserError as exc:
            log.error("tokenswarm: %s", exc)
            runner.quit()
            return
        # long-lived objects (prompts, tokenizer) leave the collector's scans: shorter GC
        # pauses while streams are being timed (DESIGN.md section 5)
        gc.collect()
        gc.freeze()
    if isinstance(runner, LocalRunner):
        gevent.spawn(_local_flush_loop)


def _begin_run(environment: Any) -> None:
    opts = LoadOptions.from_namespace(environment.parsed_options)
    run_id = opts.run_id or default_run_id()
    po = environment.parsed_options
    config = {
        **opts.snapshot(),
        "run_id": run_id,
        "host": environment.host or po.host,
        "users": getattr(po, "num_users", None),
        "spawn_rate": getattr(po, "spawn_rate", None),
        "run_time": getattr(po, "run_time", None),
        "user_classes": sorted(environment.user_classes_by_name),
    }
    run = RUNTIME.begin(opts, run_id, config)
    log.info("tokenswarm: run %s, results in %s", run_id, run.run_dir)
    environment.runner.send_message(
        "tokenswarm_run", {"run_id": run_id, "measure_from_ns": run.measure_from_ns}
    )


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


def _on_final_message(environment: Any, msg: Any, **_: Any) -> None:
    RUNTIME.absorb(msg.data, msg.node_id)
    if RUNTIME.run is not None:
        RUNTIME.run.finals_from.add(msg.node_id)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message("tokenswarm_final", RUNTIME.collector.drain())
        return
    run = RUNTIME.run
    if run is None:
        return
    run.stop_ns = time.time_ns()
    if isinstance(runner, LocalRunner):
        RUNTIME.absorb(RUNTIME.collector.drain(), worker_name())
        RUNTIME.finish(locust.__version__)
    elif isinstance(runner, MasterRunner):
        expected = {w.id for w in runner.clients.all}
        gevent.spawn(_finish_when_finals_arrive, expected)


def _finish_when_finals_arrive(expected: set[str]) -> None:
    run = RUNTIME.run
    deadline = time.monotonic() + FINALS_GRACE_S
    while run is not None and not expected <= run.finals_from and time.monotonic() < deadline:
        gevent.sleep(0.05)
    if run is not None and not run.finished:
        missing = expected - run.finals_from
        if missing:
            log.warning("tokenswarm: no final report from workers %s", ", ".join(sorted(missing)))
            run.config["workers_lost"] = sorted(missing)
        RUNTIME.finish(locust.__version__)


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    run = RUNTIME.run
    if run is None or run.finished or not isinstance(environment.runner, MasterRunner):
        return
    deadline = time.monotonic() + 2.0
    while not run.finished and time.monotonic() < deadline:
        gevent.sleep(0.05)
    RUNTIME.finish(locust.__version__)
