"""The versions a worker must share with its master."""

from __future__ import annotations

import tokenswarm
from tokenswarm.launch.versions import local_versions, mismatch


def test_local_versions_are_this_interpreter_s():
    versions = local_versions()
    assert versions["tokenswarm"] == tokenswarm.__version__
    assert versions["locust"].count(".") >= 1


def test_equal_versions_pass_and_a_difference_is_one_line():
    master = {"tokenswarm": "0.1.0", "locust": "2.47.0"}
    assert mismatch(master, dict(master), "w1") is None
    line = mismatch(master, {"tokenswarm": "0.1.0", "locust": "2.43.4"}, "w1")
    assert line is not None and "\n" not in line
    assert "worker w1 refused" in line and "locust 2.43.4" in line and "locust 2.47.0" in line
    assert mismatch(master, {}, "old") is not None  # a worker that sent nothing is refused
