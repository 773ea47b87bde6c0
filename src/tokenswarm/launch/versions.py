"""The versions a worker must share with its master, and the one-line refusal when they differ.

Why: a worker with another tokenswarm release may time, classify or ship metrics differently
(a changed delta layout merges wrongly or not at all), and another Locust release may speak a
different master/worker protocol. Locust itself only logs a warning for the latter; tokenswarm
refuses the worker instead, so a 100-host run never mixes silently.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import tokenswarm

CHECKED = ("tokenswarm", "locust")


def local_versions() -> dict[str, str]:
    """``{"tokenswarm": ..., "locust": ...}`` of this interpreter (read at call time)."""
    try:
        locust_version = version("locust")
    except PackageNotFoundError:
        locust_version = "not installed"
    return {"tokenswarm": tokenswarm.__version__, "locust": locust_version}


def describe(versions: dict[str, str]) -> str:
    """``tokenswarm 0.1.0, locust 2.47.0``."""
    return ", ".join(f"{name} {versions.get(name, '?')}" for name in CHECKED)


def mismatch(master: dict[str, str], worker: dict[str, str], worker_name: str) -> str | None:
    """None when every checked version is equal, else one line saying what to install."""
    if all(master.get(name) == worker.get(name) for name in CHECKED):
        return None
    return (
        f"worker {worker_name} refused: it runs {describe(worker)}, the master runs "
        f"{describe(master)}; install the master's versions on the worker"
    )
