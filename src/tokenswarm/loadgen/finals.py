"""Collecting every worker's last delta before the master writes results.

Why this exists: when a headless run ends (``-t`` or Ctrl-C), Locust's ``MasterRunner.quit()``
fires ``test_stop`` on the master *before* the workers have stopped, then sends ``quit``, waits
0.5 s and kills its receive loop. Workers that drain in-flight requests for ``--stop-timeout``
seconds would report after that, and their last seconds of data would be lost silently.

So, in the master's ``test_stop``: every worker whose final delta has not arrived yet is asked
to stop now (``tokenswarm_stop``: a graceful ``runner.stop()`` on the worker, which fires the
worker's ``test_stop`` and sends ``tokenswarm_final``), and the master waits (its receive loop
keeps running) until all finals arrived or the deadline passed. Workers that never answered are
logged and listed in the summary (``config.workers_lost``). In a web-UI stop, Locust already
stopped the workers and their finals arrived before ``client_stopped``: nothing to wait for.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from locust.runners import STATE_MISSING, MasterRunner

from tokenswarm.loadgen.runtime import RUNTIME, RunInfo

log = logging.getLogger("tokenswarm")
POLL_S = 0.05


def on_final_message(environment: Any, msg: Any, **_: Any) -> None:
    """Master: a worker's last delta (sent from its test_stop)."""
    RUNTIME.absorb(msg.data, msg.node_id)
    if RUNTIME.run is not None:
        RUNTIME.run.finals_from.add(msg.node_id)


def on_stop_message(environment: Any, msg: Any, **_: Any) -> None:
    """Worker: stop gracefully now (users finish within the master's stop timeout, sent along:
    a sweep's ramp-down may have left the worker's at 0), which sends the final."""
    if msg.data and "stop_timeout" in msg.data:
        environment.stop_timeout = float(msg.data["stop_timeout"])
    environment.runner.stop()


def collect_worker_finals(runner: MasterRunner, run: RunInfo, timeout_s: float,
                          stop_timeout: float) -> None:
    """Ask pending workers to stop and wait for their finals (blocks this greenlet only)."""
    expected = {c.id for c in runner.clients.all if c.state != STATE_MISSING}
    pending = expected - run.finals_from
    for client_id in pending:
        runner.send_message("tokenswarm_stop", {"stop_timeout": stop_timeout},
                            client_id=client_id)
    deadline = time.monotonic() + timeout_s
    while not expected <= run.finals_from and time.monotonic() < deadline:
        gevent.sleep(POLL_S)
    lost = sorted(set(c.id for c in runner.clients.all) - run.finals_from)
    if lost:
        log.warning("tokenswarm: no final report from workers %s: their last seconds are "
                    "missing from the results", ", ".join(lost))
        run.config["workers_lost"] = lost
