"""Mergeable histograms: relative error, nearest-rank percentiles, exact merge, wire forms."""

from __future__ import annotations

import json
import math

import msgpack
import numpy as np
import pytest

from tokenswarm.histograms import MIN_US, PERCENTILES, RELATIVE_ERROR, ZERO_BUCKET, Histogram

# The representative value sits exactly RELATIVE_ERROR away at bucket edges; allow float noise.
TOL = 0.005 * (1 + 1e-9)  # the advertised bound (0.5 %), not whatever the module says
QS = (0.1, 1.0, 5.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 100.0)


def _hist(values) -> Histogram:
    h = Histogram()
    h.record_many(float(v) for v in values)
    return h


def _lone(value_ms: float) -> float:
    """What the histogram reports for ``value_ms`` when min/max clamping cannot help."""
    h = Histogram()
    h.record(0.0)
    h.record(value_ms)
    h.record(1e9)
    result = h.percentile(50)
    assert result is not None
    return result


def _state(h: Histogram) -> tuple:
    return (dict(h.counts), h.count, h.sum_ms, h.min_ms, h.max_ms)


# --- relative error ---------------------------------------------------------------------------


def test_relative_error_bound_over_full_range():
    worst = 0.0
    for v in np.logspace(-3, 6, 20_001):
        v = float(v)
        worst = max(worst, abs(_lone(v) - v) / v)
    assert worst <= TOL
    # The bound is actually used (bucketing is not finer than advertised, nor coarser).
    assert worst > RELATIVE_ERROR * 0.9


def test_relative_error_at_bucket_edges():
    gamma = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
    for i in range(0, 2800, 7):  # gamma**2770 ~ 1e9 us = 1e6 ms
        edge_us = gamma**i
        for v_us in (edge_us, math.nextafter(edge_us, 0), math.nextafter(edge_us, math.inf)):
            v = v_us / 1000.0
            if not 0.001 <= v <= 1e6:
                continue
            assert abs(_lone(v) - v) / v <= TOL, v


@pytest.mark.parametrize("v", [0.001, 0.0015, 0.0123, 0.25, 1.0, 7.77, 20.0, 999.9, 12345.6, 1e6])
def test_specific_values_within_bound(v):
    assert abs(_lone(v) - v) / v <= TOL


def test_values_at_or_below_min_share_zero_bucket():
    h = Histogram()
    h.record(0.0)
    h.record(MIN_US / 1000.0)  # exactly 1 us
    h.record(0.0005)
    assert h.counts == {ZERO_BUCKET: 3}
    assert h.count == 3
    # Reported value is MIN_US clamped into [min, max]
    assert h.percentile(100) == pytest.approx(0.001)
    assert h.percentile(1) == pytest.approx(0.001)  # zero bucket represents 1 us ...
    assert h.min_ms == 0.0  # ... but min stays exact


def test_negative_values_are_clamped_to_zero():
    h = Histogram()
    h.record(-5.0)
    assert h.min_ms == 0.0 and h.max_ms == 0.0 and h.sum_ms == 0.0
    assert h.counts == {ZERO_BUCKET: 1}
    assert h.percentile(50) == 0.0


def test_distinct_values_land_in_distinct_buckets():
    # 1 % apart is more than twice the relative error: must not share a bucket.
    h = _hist([10.0, 10.1, 10.2])
    assert len(h.counts) == 3


# --- percentiles ------------------------------------------------------------------------------


def _datasets():
    rng = np.random.default_rng(12345)
    return {
        # sub-ms ITLs (e.g. speculative decoding / tiny models), clipped at the 1 us floor
        "itl_submillisecond": np.maximum(rng.lognormal(np.log(0.3), 0.6, 20_000), 0.001),
        "itl_typical": rng.lognormal(np.log(18.0), 0.25, 20_000),
        "ttft_heavy_tail": (rng.pareto(1.5, 10_000) + 1.0) * 40.0,
        "exponential": rng.exponential(250.0, 5_000) + 0.001,
        "bimodal": np.concatenate(
            [rng.normal(12.0, 1.0, 9_000).clip(0.01), rng.normal(900.0, 50.0, 1_000).clip(1)]
        ),
        "log_uniform_full_range": 10.0 ** rng.uniform(-3, 6, 10_000),
        "small_n": rng.uniform(1.0, 100.0, 7),
        "ties": rng.choice([1.5, 2.5, 40.0], 1_001),
    }


@pytest.mark.parametrize("name", list(_datasets()))
def test_percentiles_match_numpy_inverted_cdf(name):
    data = _datasets()[name]
    h = _hist(data)
    for q in QS:
        expected = float(np.percentile(data, q, method="inverted_cdf"))
        got = h.percentile(q)
        assert got is not None
        assert abs(got - expected) <= 0.01 * expected, (name, q, got, expected)
        # tighter: the advertised per-value bound holds for every percentile
        assert abs(got - expected) <= TOL * expected, (name, q, got, expected)


def test_percentile_ranks_exact_on_integers():
    # integers 1..n, each 1 ms apart, so an off-by-one rank error is ~1/v, far above 0.5 %
    # for small values: check the exact rank choice via n small enough.
    for n in (1, 2, 3, 10, 11, 99, 100, 101, 999, 1000, 1001):
        data = np.arange(1, n + 1, dtype=float) * 100.0
        h = _hist(data)
        for q in PERCENTILES:
            expected = float(np.percentile(data, q, method="inverted_cdf"))
            assert h.percentile(q) == pytest.approx(expected, rel=TOL), (n, q)


def test_percentile_is_clamped_to_exact_min_and_max():
    h = _hist([3.14159])
    for q in QS:
        assert h.percentile(q) == 3.14159
    # the representative of the max's bucket may exceed max: clamped down to the exact max
    h = _hist([1.0, 2.0, 1000.0 * 1.0049])
    top = h.percentile(100)
    assert top is not None and top <= h.max_ms
    assert top == pytest.approx(h.max_ms, rel=TOL)
    # ... and of the min's bucket may undershoot min: clamped up to the exact min
    for v in np.linspace(1.0, 1.1, 50):
        h = _hist([float(v), 500.0])
        low = h.percentile(1)
        assert low is not None and low >= h.min_ms
        assert low == pytest.approx(h.min_ms, rel=TOL)
    # one clamp must actually bite for some value in a bucket
    clamped = [_hist([float(v), 500.0]).percentile(1) == float(v) for v in np.linspace(1, 1.1, 50)]
    assert any(clamped)


def test_percentile_empty_is_none():
    assert Histogram().percentile(50) is None


# --- summary ----------------------------------------------------------------------------------


def test_empty_summary():
    s = Histogram().summary()
    assert s == {
        "count": 0,
        "mean": None,
        "min": None,
        "max": None,
        "p50": None,
        "p90": None,
        "p95": None,
        "p99": None,
        "p99.9": None,
    }


def test_summary_values():
    data = np.random.default_rng(7).lognormal(2.0, 0.5, 3_000)
    h = _hist(data)
    s = h.summary()
    assert list(s) == ["count", "mean", "min", "max", "p50", "p90", "p95", "p99", "p99.9"]
    assert s["count"] == 3_000
    assert s["mean"] == pytest.approx(float(np.mean(data)), rel=1e-12)
    assert s["min"] == float(np.min(data))
    assert s["max"] == float(np.max(data))
    for q in PERCENTILES:
        expected = float(np.percentile(data, q, method="inverted_cdf"))
        assert s[f"p{q:g}"] == pytest.approx(expected, rel=TOL)


# --- record(times=n) --------------------------------------------------------------------------


def test_record_times_equals_repeated_records():
    a, b = Histogram(), Histogram()
    a.record(4.25, times=7)
    a.record(0.5, times=3)
    for _ in range(7):
        b.record(4.25)
    for _ in range(3):
        b.record(0.5)
    assert _state(a) == _state(b)
    assert a.count == 10
    assert a.sum_ms == 4.25 * 7 + 0.5 * 3
    assert a.summary() == b.summary()
    # weights shift the percentiles: 70 % of samples are 4.25
    assert a.percentile(30) == pytest.approx(0.5, rel=TOL)
    assert a.percentile(31) == pytest.approx(4.25, rel=TOL)


# --- merge ------------------------------------------------------------------------------------


def _dyadic(values) -> np.ndarray:
    """Values on a 1/1024 ms grid: float sums are exact in any order."""
    return np.maximum(np.round(np.asarray(values) * 1024.0) / 1024.0, 1 / 1024)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_merge_equals_histogram_of_union_exactly(seed):
    rng = np.random.default_rng(seed)
    a = _dyadic(rng.lognormal(np.log(20.0), 1.0, 4_000))
    b = _dyadic(rng.lognormal(np.log(0.5), 2.0, 3_000))
    ha, hb, union = _hist(a), _hist(b), _hist(np.concatenate([a, b]))
    ha.merge(hb)
    assert ha.counts == union.counts
    assert ha.count == union.count == 7_000
    assert ha.min_ms == union.min_ms
    assert ha.max_ms == union.max_ms
    assert ha.sum_ms == union.sum_ms
    for q in (*QS, 33.3, 66.6):
        assert ha.percentile(q) == union.percentile(q)
    assert ha.summary() == union.summary()


def test_merge_of_arbitrary_floats_sum_close():
    rng = np.random.default_rng(9)
    a, b = rng.exponential(5.0, 1000), rng.exponential(50.0, 1000)
    ha, hb, union = _hist(a), _hist(b), _hist(np.concatenate([a, b]))
    ha.merge(hb)
    assert ha.counts == union.counts
    assert ha.sum_ms == pytest.approx(union.sum_ms, rel=1e-12)
    for q in QS:
        assert ha.percentile(q) == union.percentile(q)


def test_merge_with_empty_both_ways():
    h = _hist([1.0, 2.0, 3.0])
    before = _state(h)
    h.merge(Histogram())
    assert _state(h) == before
    empty = Histogram()
    empty.merge(h)
    assert _state(empty) == before
    assert empty.summary() == h.summary()


def test_merge_is_order_independent():
    parts = [_dyadic(np.random.default_rng(s).exponential(10.0, 500)) for s in range(4)]
    m1, m2 = Histogram(), Histogram()
    for p in parts:
        m1.merge(_hist(p))
    for p in reversed(parts):
        m2.merge(_hist(p))
    assert _state(m1) == _state(m2)


# --- wire -------------------------------------------------------------------------------------


def _sample_hist() -> Histogram:
    h = _hist(np.random.default_rng(3).lognormal(0.0, 2.5, 2_000))
    h.record(0.0)  # the zero bucket's large negative key must survive too
    h.record(3.5, times=4)
    return h


def test_wire_round_trip_direct():
    h = _sample_hist()
    back = Histogram.from_wire(h.to_wire())
    assert _state(back) == _state(h)
    assert back.summary() == h.summary()


def test_wire_round_trip_json():
    h = _sample_hist()
    text = json.dumps(h.to_wire(), allow_nan=False)
    back = Histogram.from_wire(json.loads(text))
    assert _state(back) == _state(h)
    assert back.summary() == h.summary()


@pytest.mark.parametrize("strict", [True, False])
def test_wire_round_trip_msgpack(strict):
    h = _sample_hist()
    # Locust's rpc uses raw=False, strict_map_key=False; string keys work under strict too.
    packed = msgpack.dumps(h.to_wire())
    back = Histogram.from_wire(msgpack.loads(packed, raw=False, strict_map_key=strict))
    assert _state(back) == _state(h)
    assert back.summary() == h.summary()


def test_wire_empty_histogram_json_and_msgpack():
    wire = Histogram().to_wire()
    assert wire["min_ms"] is None and wire["max_ms"] is None and wire["count"] == 0
    json.dumps(wire, allow_nan=False)  # no inf leaks into JSON
    for data in (json.loads(json.dumps(wire)), msgpack.loads(msgpack.dumps(wire), raw=False)):
        back = Histogram.from_wire(data)
        assert back.count == 0 and back.summary()["p50"] is None
        # an empty histogram from the wire merges as a no-op
        h = _hist([5.0])
        h.merge(back)
        assert (h.min_ms, h.max_ms, h.count) == (5.0, 5.0, 1)


def test_merge_after_wire_equals_local_merge():
    a, b = _dyadic([1.0, 2.0, 50.0]), _dyadic([0.01, 700.0])
    local = _hist(a)
    local.merge(_hist(b))
    remote = Histogram.from_wire(msgpack.loads(msgpack.dumps(_hist(a).to_wire()), raw=False))
    remote.merge(Histogram.from_wire(json.loads(json.dumps(_hist(b).to_wire()))))
    assert _state(remote) == _state(local)
