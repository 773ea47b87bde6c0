"""Run ``tokenswarm sim`` as a subprocess (tests, examples, Locust-side rehearsals).

Standard library only: this is imported from gevent-patched Locust processes and from pytest.

    with SimProcess("--preset", "fixed") as sim:
        urllib.request.urlopen(sim.url + "/v1/models")
        print(sim.stats()["requests_finished"])
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from types import TracebackType
from typing import Any

_LISTENING = re.compile(r"tokenswarm sim listening on (http://\S+) ")


class SimProcessError(RuntimeError):
    """The simulator did not start (its stderr is in the message)."""


class SimProcess:
    """``sys.executable -m tokenswarm.sim --port 0 *args`` (= ``tokenswarm sim``) as a context
    manager.

    ``start()`` waits (up to ``start_timeout`` seconds) for the listening line and sets
    :attr:`url`; if the process dies or stays silent, it raises :class:`SimProcessError` with
    the process's stderr.
    """

    def __init__(
        self, *args: str, start_timeout: float = 20.0, env: dict[str, str] | None = None
    ) -> None:
        self.args = [str(a) for a in args]
        self.start_timeout = start_timeout
        self.env = env
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        # Kept open for the object's life (read back in error messages), closed in __exit__.
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115

    @property
    def pid(self) -> int:
        """Process id of the running simulator."""
        if self.proc is None:
            raise SimProcessError("simulator not started")
        return self.proc.pid

    def start(self) -> SimProcess:
        """Start the simulator and wait until it listens."""
        cmd = [sys.executable, "-m", "tokenswarm.sim", "--port", "0", *self.args]
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            # own session: a terminal Ctrl-C stops the load first, not the server under it
            start_new_session=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(self._readline()), daemon=True)
        reader.start()
        reader.join(self.start_timeout)
        match = _LISTENING.search(lines[0]) if lines else None
        if match is None:
            why = "timed out" if self.proc.poll() is None else "exited"
            self.stop()
            raise SimProcessError(
                f"tokenswarm sim {why} before listening ({' '.join(self.args)}): "
                f"stdout={lines[0] if lines else ''!r} stderr={self.stderr().strip()!r}"
            )
        self.url = match.group(1)
        return self

    def _readline(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout.readline()

    def stderr(self) -> str:
        """Everything the simulator wrote to stderr so far."""
        self._stderr.seek(0)
        return self._stderr.read()

    def get_json(self, path: str, timeout: float = 10.0) -> Any:
        """GET ``path`` and decode the JSON body."""
        with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict[str, Any]:
        """The simulator's ``/sim/stats`` counters."""
        result: dict[str, Any] = self.get_json("/sim/stats")
        return result

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL; returns the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self._stderr.close()
