"""A real ``influxd`` (Debian's 1.6.7) on a random loopback port, for the integration tests.

Everything lives under a temp dir and both listeners bind 127.0.0.1:0 (INFLUX-GRAFANA-NOTES
section 1.2): parallel servers never clash and nothing listens on all interfaces. The HTTP port
is read from the server's own log line, which is race-free unlike picking a free port first.
``restart()`` keeps the data dir and rebinds the same port, so a writer pointed at the old URL
sees exactly what it would see when a production InfluxDB is restarted.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from helpers import REPO

_LISTENING = re.compile(r'msg="Listening on HTTP".*?addr=127\.0\.0\.1:(\d+)')

_CONFIG = """\
reporting-enabled = false
bind-address = "127.0.0.1:0"
[meta]
  dir = "{root}/meta"
[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  pprof-enabled = false
[logging]
  level = "info"
  suppress-logo = true
[continuous_queries]
  enabled = false
[retention]
  enabled = false
[shard-precreation]
  enabled = false
"""


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: a SIGKILLed pytest must not leave an orphaned influxd behind."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def find_influxd() -> str:
    """``$TOKENSWARM_INFLUXD``, then PATH, then the copy bootstrap.sh unpacks into .venv."""
    for candidate in (
        os.environ.get("TOKENSWARM_INFLUXD", ""),
        shutil.which("influxd") or "",
        str(REPO / ".venv" / "influxdb" / "usr" / "bin" / "influxd"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "no influxd found: run 'bash launchers/bootstrap.sh --test' as root, or "
        "apt-get install influxdb, or set TOKENSWARM_INFLUXD=/path/to/influxd"
    )


class Influxd:
    """One influxd process; ``url`` is valid after :meth:`start`."""

    def __init__(self, binary: str | None = None, start_timeout_s: float = 15.0) -> None:
        self.binary = binary or find_influxd()
        self.start_timeout_s = start_timeout_s
        self.root = Path(tempfile.mkdtemp(prefix="tokenswarm-influxd-"))
        self.port = 0
        self.log: list[str] = []
        self._proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Influxd:
        """Start (first time: any free port; later: the same port) and wait for ``/ping``."""
        config = self.root / "influxdb.conf"
        config.write_text(_CONFIG.format(root=self.root, port=self.port))
        env = {k: v for k, v in os.environ.items() if not k.startswith("INFLUXDB_")}
        self.log = []
        self._proc = subprocess.Popen(
            [self.binary, "run", "-config", str(config)], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env,
            preexec_fn=_die_with_parent,
        )
        found = threading.Event()
        threading.Thread(target=self._read_log, args=(self._proc, found), daemon=True).start()
        deadline = time.monotonic() + self.start_timeout_s
        if not found.wait(self.start_timeout_s):
            self._fail("never logged its HTTP address")
        while not self._ping():
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self._fail("did not answer /ping")
            time.sleep(0.005)
        return self

    def _read_log(self, proc: subprocess.Popen[str], found: threading.Event) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.log.append(line)
            match = _LISTENING.search(line)
            if match and not found.is_set():
                self.port = int(match[1])
                found.set()

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=1) as response:
                return int(response.status) == 204
        except (urllib.error.URLError, OSError):
            return False

    def _fail(self, why: str) -> None:
        self.stop()
        raise RuntimeError(f"influxd {why}; its log:\n{''.join(self.log[-30:])}")

    def stop(self) -> None:
        """Terminate the server (data stays for :meth:`restart`)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        """Start again on the same port with the same data."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class InfluxDb:
    """One database on a test server, with an InfluxQL helper for assertions."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name

    def _post(self, params: dict[str, str]) -> list[dict[str, Any]]:
        body = urllib.parse.urlencode(params).encode()
        with urllib.request.urlopen(self.url + "/query", body, timeout=10) as response:
            results: list[dict[str, Any]] = json.load(response)["results"]
        errors = [r["error"] for r in results if "error" in r]
        assert not errors, errors
        return results

    def create(self) -> InfluxDb:
        self._post({"q": f'CREATE DATABASE "{self.name}"'})
        return self

    def query(self, influxql: str) -> list[dict[str, Any]]:
        """Rows as dicts (columns, plus the series' tags for GROUP BY); time in ns epochs."""
        results = self._post({"q": influxql, "db": self.name, "epoch": "ns"})
        rows = []
        for series in results[0].get("series", []):
            tags = series.get("tags", {})
            for values in series["values"]:
                rows.append({**tags, **dict(zip(series["columns"], values, strict=True))})
        return rows

    def count(self, measurement: str, field: str) -> int:
        rows = self.query(f'SELECT count("{field}") FROM "{measurement}"')
        return int(rows[0]["count"]) if rows else 0
