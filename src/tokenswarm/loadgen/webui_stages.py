"""Stage boundaries of a run driven by hand from Locust's web UI.

A test started from the UI is stage 0 (named like ``tokenswarm run``'s single stage). While it
runs, two UI actions open the next stage, so that the LLM tab's rows and the results describe
one load level each instead of a blur of all of them:

- **Edit** with a new user count: stage ``k`` is ``<name>@<users>``; it starts at once and its
  measurement starts after the ramp and the warm-up,
  ``measure_from = now + |users - previous users| / spawn_rate + --warmup``
  (requests started before that are its warm-up: in requests.csv, not in its metrics);
- **Reset stats**: the same users, measured from now (Locust's own tables restart too).

A stage is attributed to the requests that *start* in it (tokenswarm.stages). A load shape
(``tokenswarm sweep``) drives its own stages: the UI then starts none.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

from locust.runners import STATE_RUNNING, STATE_SPAWNING

from tokenswarm.loadgen.listeners import start_stage
from tokenswarm.loadgen.options import LoadOptions
from tokenswarm.loadgen.runtime import RUNTIME

log = logging.getLogger("tokenswarm")


def can_open_stage(environment: Any) -> bool:
    """A hand-driven run is in progress (not a load shape, not stopped)."""
    run = RUNTIME.run
    return (
        environment.shape_class is None
        and run is not None
        and not run.finished
        and RUNTIME.stage is not None
        and environment.runner.state in (STATE_RUNNING, STATE_SPAWNING)
    )


def open_stage(environment: Any, users: int, ramp_s: float, warmup_s: float) -> None:
    """Start the next stage on every process (see the module docstring)."""
    current = RUNTIME.stage
    assert current is not None
    now = time.time_ns()
    base = RUNTIME.timeline.stages[0].name
    info = dataclasses.replace(
        current,
        index=current.index + 1,
        name=f"{base}@{users}",
        users=users,
        started_ns=now,
        measure_from_ns=now + int((ramp_s + warmup_s) * 1e9),
    )
    start_stage(environment, info)
    log.info("tokenswarm: stage %d (%s) started from the web UI", info.index, info.name)


def on_user_count_edit(environment: Any, users: int, spawn_rate: float) -> None:
    """The UI's Edit form changed the user count of a running test."""
    current = RUNTIME.stage
    if current is None or users == current.users:
        return
    warmup = LoadOptions.from_namespace(environment.parsed_options).warmup
    open_stage(environment, users, abs(users - current.users) / spawn_rate, warmup)


def on_reset_stats(environment: Any) -> None:
    """The UI's Reset stats button: measure the same load afresh from now."""
    current = RUNTIME.stage
    if current is not None and can_open_stage(environment):
        open_stage(environment, current.users, 0.0, 0.0)
