"""Run ``tokenswarm agent`` as a subprocess (tests, the overhead benchmark, demos).

Standard library only. ``stop()`` sends SIGTERM, exactly what systemd does, and returns the
exit summary line parsed into counters, so callers check what the agent says it did.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from types import TracebackType

_SUMMARY = re.compile(r"^tokenswarm agent: run_id=\S+ (.*)$", re.MULTILINE)


def parse_summary(text: str) -> dict[str, int]:
    """``polls=3 points=9 ...`` of the exit line -> ``{"polls": 3, "points": 9, ...}``."""
    match = _SUMMARY.search(text)
    if match is None:
        return {}
    pairs = (item.split("=", 1) for item in match.group(1).split())
    return {key: int(value) for key, value in pairs}


class AgentProcess:
    """``sys.executable -m tokenswarm agent *args`` with output captured to temp files."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.args = [str(a) for a in args]
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc: subprocess.Popen[bytes] | None = None
        self._out = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (read back until close)
        self._err = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115

    def start(self) -> AgentProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tokenswarm", "agent", *self.args], stdout=self._out,
            stderr=self._err, stdin=subprocess.DEVNULL, env=self.env,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None, "agent not started"
        return self.proc.pid

    def output(self) -> str:
        """stdout + stderr so far."""
        text = []
        for f in (self._out, self._err):
            f.seek(0)
            text.append(f.read())
        return "".join(text)

    def wait(self, timeout_s: float) -> int:
        assert self.proc is not None, "agent not started"
        return self.proc.wait(timeout_s)

    def stop(self, timeout_s: float = 30.0) -> dict[str, int]:
        """SIGTERM, wait for the final flush, return the summary counters ({} if none)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return parse_summary(self.output())

    def __enter__(self) -> AgentProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        self._out.close()
        self._err.close()
