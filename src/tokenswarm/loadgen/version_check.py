"""Workers whose tokenswarm or Locust version differs from the master's are refused.

Protocol (two custom Locust messages; importing this module registers the listeners):

1. a worker, right after connecting (``init``), sends ``tokenswarm_hello`` with its versions;
2. the master compares them with its own (:func:`tokenswarm.launch.versions.mismatch`). On a
   difference it logs one error line, forgets the worker at once (so ``--expect-workers`` does
   not count it and no users are dispatched to it) and answers ``tokenswarm_refused``;
3. the worker prints that line on stderr and exits with status 2.

The hello follows Locust's own ``client_ready`` within milliseconds, while a headless master
checks for enough workers once a second, so a refused worker is gone before the test starts.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from locust import events
from locust.runners import MasterRunner, WorkerRunner

from tokenswarm.launch.versions import local_versions, mismatch

log = logging.getLogger("tokenswarm")


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    if isinstance(runner, MasterRunner):
        runner.register_message("tokenswarm_hello", _on_hello)
    elif isinstance(runner, WorkerRunner):
        runner.register_message("tokenswarm_refused", _on_refused)
        runner.send_message("tokenswarm_hello", local_versions())


def _on_hello(environment: Any, msg: Any, **_: Any) -> None:
    """Master: refuse a worker whose versions differ."""
    runner = environment.runner
    reason = mismatch(local_versions(), dict(msg.data or {}), msg.node_id)
    if reason is None:
        return
    log.error("tokenswarm: %s", reason)
    client = runner.clients.get(msg.node_id)
    if client is not None:
        del runner.clients[msg.node_id]
        if runner._users_dispatcher is not None:  # a worker that joined a running test
            runner._users_dispatcher.remove_worker(client)
    runner.send_message("tokenswarm_refused", {"reason": reason}, client_id=msg.node_id)


def _on_refused(environment: Any, msg: Any, **_: Any) -> None:
    """Worker: say why in one line and exit with status 2."""
    print(f"tokenswarm: error: {msg.data['reason']}", file=sys.stderr, flush=True)
    environment.process_exit_code = 2
    environment.runner.quit()
