"""Run a monitoring tool with a hard timeout that cannot leave a process behind.

GPU tools hang (a wedged driver, a first call that enumerates every card for seconds): the
agent must get its poll loop back on time. Each call runs in its own session (process group);
on timeout the whole group is killed with SIGKILL, so a shell wrapper's children (DTK's
``rocm-smi`` is a Python script started from a shell) cannot keep the output pipe open and
block the next poll. Calls never overlap: each source polls from one thread.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

# After the kill, how long to wait for the pipes to close (a process that escaped the group
# with setsid could hold them forever).
_REAP_S = 1.0


@dataclass(frozen=True)
class CommandResult:
    """What one call printed and how it ended (``returncode`` None: killed on timeout)."""

    stdout: str
    stderr: str
    returncode: int | None
    timed_out: bool
    duration_s: float

    def why(self) -> str:
        """One line describing a failed call (exit status and the last line of stderr)."""
        if self.timed_out:
            return f"timed out after {self.duration_s:.1f} s (killed)"
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        tail = f": {lines[-1][:200]}" if lines else ""
        return f"exit status {self.returncode}{tail}"


def run_command(argv: Sequence[str], timeout_s: float) -> CommandResult:
    """Run ``argv`` (no shell), capture its output, kill its process group after ``timeout_s``.

    A binary that cannot be started reads as a failed call (status 127), not an exception.
    """
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult("", str(exc), 127, False, time.monotonic() - start)
    try:
        out, err = proc.communicate(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=_REAP_S)
        except subprocess.TimeoutExpired:
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            proc.wait()
            out, err = b"", b""
    return CommandResult(
        out.decode(errors="replace"),
        err.decode(errors="replace"),
        None if timed_out else proc.returncode,
        timed_out,
        time.monotonic() - start,
    )
