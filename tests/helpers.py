"""Helpers shared by the tests (importable as ``helpers``: pytest's pythonpath has tests/)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TELEMETRY_FIXTURES = REPO.parent / "shared" / "fixtures" / "telemetry"
CHAT_LOCUSTFILE = str(REPO / "locustfiles" / "openai_chat.py")
COMPLETIONS_LOCUSTFILE = str(REPO / "locustfiles" / "openai_completions.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocustRun:
    proc: subprocess.CompletedProcess[str]
    run_dir: Path

    @property
    def output(self) -> str:
        return self.proc.stdout + self.proc.stderr

    def summary(self) -> dict[str, Any]:
        path = self.run_dir / "summary.json"
        assert path.is_file(), f"no summary.json; locust output:\n{self.output[-4000:]}"
        return json.loads(path.read_text())

    def requests_csv(self) -> Any:
        import pandas as pd

        return pd.read_csv(self.run_dir / "requests.csv")


def locust_cmd(locustfile: str, host: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", locustfile, "--host", host, *args]


def wait_for(predicate: Any, timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns a truthy value (returned) or fail after timeout."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def telemetry_fixture(name: str) -> str:
    """A real captured tool output from ../shared (skips in a user's clone without it)."""
    import pytest

    path = TELEMETRY_FIXTURES / name
    if not path.is_file():
        pytest.skip(f"{path} absent (fresh clone without ../shared)")
    return path.read_text(encoding="utf-8")
