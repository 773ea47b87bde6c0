"""The shell launchers pass shellcheck, run the package's commands, and fail in one line when
no Python with tokenswarm is found."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import REPO

pytestmark = pytest.mark.integration

LAUNCHERS = REPO / "launchers"
ENTRY_POINTS = {
    "master.sh": "master",
    "worker.sh": "worker",
    "ssh-workers.sh": "ssh-workers",
    "engine.sh": "engine",
}


def test_every_launcher_passes_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: apt-get install shellcheck (bootstrap.sh --test)"
    scripts = sorted(str(p) for p in LAUNCHERS.glob("*.sh"))
    assert {Path(s).name for s in scripts} >= {"bootstrap.sh", "lib.sh", *ENTRY_POINTS}
    result = subprocess.run(
        [shellcheck, "--external-sources", *scripts], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout[-4000:]


@pytest.mark.parametrize(("script", "subcommand"), sorted(ENTRY_POINTS.items()))
def test_launcher_runs_its_subcommand(script, subcommand):
    result = subprocess.run(
        ["bash", str(LAUNCHERS / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: tokenswarm {subcommand}")


def test_no_python_with_tokenswarm_is_one_line(tmp_path):
    for name in ("lib.sh", "worker.sh"):  # outside the repository: no .venv beside them
        shutil.copy(LAUNCHERS / name, tmp_path / name)
    env = {
        **os.environ,
        "PYTHON": str(tmp_path / "no-python"),
        "PATH": str(tmp_path) + ":/usr/bin:/bin",
    }
    (tmp_path / "python3").write_text("#!/bin/sh\nexit 1\n")  # a python3 without tokenswarm
    (tmp_path / "python3").chmod(0o755)
    result = subprocess.run(
        ["bash", str(tmp_path / "worker.sh"), "--master-host", "h"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tokenswarm: error: no Python with"), lines
