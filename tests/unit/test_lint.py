"""The code base stays ruff-clean (part of the test suite so CI enforces it)."""

from __future__ import annotations

import shutil
import subprocess
import sys

from helpers import REPO


def test_ruff_check_is_clean():
    ruff = shutil.which("ruff") or str(REPO / ".venv" / "bin" / "ruff")
    proc = subprocess.run(
        [ruff, "check", "src", "tests", "locustfiles", "benchmarks"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_locust_free_modules_do_not_import_locust():
    """The simulator and the pure metric code must run without gevent monkey patching."""
    code = (
        "import sys, tokenswarm.cli, tokenswarm.sim.server, tokenswarm.results, "
        "tokenswarm.collector, tokenswarm.preflight, tokenswarm.datasets;"
        "bad = [m for m in ('locust', 'gevent') if m in sys.modules];"
        "sys.exit(f'imported: {bad}' if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
