"""tokenswarm under test: its own locustfile plus a recorder of per-request stamps.

``locust -f benchmarks/clients/tokenswarm_probe.py`` loads exactly what ``tokenswarm run``
loads (users and listeners); on top, the stamps of every successful request (and of those cut
by the stop) are appended to one int64 array (one C-level ``extend`` per request: negligible
next to the request) and written to ``$TOKENSWARM_BENCH_RECORDS`` when Locust quits (stop it
with SIGUSR1), in the record format of ``common.py``. Records carry wall-clock stamps
(``time_ns``); they are shifted back to ``perf_counter_ns`` with one offset taken at import
(the two clocks advance together).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import gevent
from locust import events

from tokenswarm.collector import RequestRecord
from tokenswarm.loadgen.locustfile import OpenAIChatUser
from tokenswarm.loadgen.runtime import RUNTIME

sys.path.insert(0, str(Path(__file__).parent))
from common import Records

__all__ = ["OpenAIChatUser"]

WALL_MINUS_MONO = time.time_ns() - time.perf_counter_ns()
_records = Records()
_finished, _interrupted = RUNTIME.finished, RUNTIME.interrupted


def _keep(record: RequestRecord) -> None:
    if record.ok or not record.error_class:
        chunks = record.chunk_wall_ns
        _records.data.append(len(chunks))
        # t_send as tokenswarm timed it (start_wall_ns is taken a little earlier)
        timing = record.timing
        sent = chunks[0] - round(timing.ttft_ms * 1e6) if timing else record.start_wall_ns
        _records.data.append(sent)
        _records.data.extend(chunks)


def _finished_and_kept(record: RequestRecord) -> None:
    _finished(record)
    _keep(record)


def _interrupted_and_kept(record: RequestRecord) -> None:
    _interrupted(record)
    _keep(record)


RUNTIME.finished = _finished_and_kept  # type: ignore[method-assign]
RUNTIME.interrupted = _interrupted_and_kept  # type: ignore[method-assign]


@events.init.add_listener
def _stop_on_sigusr1(environment: object, **_: object) -> None:
    """SIGUSR1 = stop like ``-t`` does (users finish or are cut: every stream is recorded);
    Locust's own SIGTERM handler quits before the users have stopped."""
    gevent.signal_handler(signal.SIGUSR1, lambda: environment.runner.quit())  # type: ignore[attr-defined]


@events.quitting.add_listener
def _write_records(**_: object) -> None:
    data, i = _records.data, 0
    while i < len(data):
        n = data[i]
        for j in range(i + 1, i + 2 + n):
            data[j] -= WALL_MINUS_MONO
        i += 2 + n
    _records.write(os.environ["TOKENSWARM_BENCH_RECORDS"])
