"""Poll ticks on a monotonic grid; strictly increasing per-series stamps."""

from __future__ import annotations

import pytest

from tokenswarm.telemetry.schedule import Stamper, Ticker


def test_ticks_do_not_drift_with_poll_duration():
    ticker = Ticker(1.0, start=100.0)
    assert ticker.next_delay(100.0) == 0.0
    # each poll took 0.3 s: the wait shrinks, the grid stays
    assert ticker.next_delay(100.3) == pytest.approx(0.7)
    assert ticker.next_delay(101.3) == pytest.approx(0.7)
    assert ticker.next_delay(102.05) == pytest.approx(0.95)
    assert ticker.skipped == 0


def test_overrun_skips_missed_ticks_instead_of_bunching():
    ticker = Ticker(1.0, start=0.0)
    ticker.next_delay(0.0)  # tick 0
    # the poll of tick 0 hung until 3.5 s: ticks 1 and 2 are lost, tick 3 runs now
    assert ticker.next_delay(3.5) == 0.0
    assert ticker.skipped == 2
    assert ticker.next_delay(3.6) == pytest.approx(0.4)


def test_stamps_strictly_increase_even_if_the_clock_steps_back():
    stamp = Stamper()
    assert stamp(1000) == 1000
    assert stamp(1000) == 1001
    assert stamp(500) == 1002
    assert stamp(5000) == 5000
