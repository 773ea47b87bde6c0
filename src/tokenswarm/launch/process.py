"""Child processes in their own process group: started together, stopped together.

Servers such as vLLM fork helpers (tensor-parallel ranks, tokenizer pools) and ``locust
--processes N`` forks N workers, so stopping only the leader leaves orphans holding GPUs or
connected to a master. Every launcher starts its child with ``start_new_session=True`` (the
child leads a new process group, and a terminal Ctrl-C reaches only what we forward) and stops
the whole group: SIGTERM, a grace period, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import IO, Any

POLL_S = 0.05


def start_group(
    cmd: Sequence[str],
    env: dict[str, str] | None = None,
    stdin: Any = subprocess.DEVNULL,
    stdout: IO[Any] | int | None = None,
    stderr: IO[Any] | int | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` as the leader of a new session (and process group)."""
    return subprocess.Popen(
        list(cmd), env=env, stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True
    )


def signal_group(proc: subprocess.Popen[Any], signum: int) -> None:
    """Send ``signum`` to the child's whole group (members may outlive the leader)."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)


def group_alive(pgid: int) -> bool:
    """True while any process of group ``pgid`` exists (zombies of our own child included)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_group(proc: subprocess.Popen[Any], grace_s: float = 10.0) -> int | None:
    """SIGTERM the group, wait up to ``grace_s`` for every member to go, then SIGKILL it."""
    signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader so that it does not keep the group alive as a zombie
        if not group_alive(proc.pid):
            break
        time.sleep(POLL_S)
    else:
        signal_group(proc, signal.SIGKILL)
    return proc.wait()


@contextmanager
def forwarding_signals(proc: subprocess.Popen[Any]) -> Iterator[None]:
    """While inside, SIGINT/SIGTERM to this process are forwarded to the child's group once
    each (the child decides how to stop gracefully, e.g. Locust's --stop-timeout)."""

    def forward(signum: int, _frame: Any) -> None:
        signal_group(proc, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
