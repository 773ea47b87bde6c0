"""The points every writer produces conform to the schema module, and the load side's
per-second series and per-request points are computed as documented."""

from __future__ import annotations

import pytest
from records import BASE, ns, record, stage, staged

from tokenswarm.collector import Collector
from tokenswarm.histograms import Histogram
from tokenswarm.influx import schema
from tokenswarm.influx.point import Point
from tokenswarm.loadgen.influx_load import SECOND_NS, LoadSeries
from tokenswarm.loadgen.influx_points import ProcessSampler, RequestPoints, stage_events
from tokenswarm.sim import fakegpu
from tokenswarm.telemetry.sample import EngineSample, HostSample
from tokenswarm.telemetry.sources.registry import TOOLS

KINDS = {"float": float, "int": int, "str": str}


def conforms(point: Point) -> None:
    """Measurement, tags and fields registered; each field of its registered type."""
    m = schema.MEASUREMENTS[point.measurement]
    assert set(point.tags) <= set(m.tags), (point.measurement, set(point.tags) - set(m.tags))
    for name, value in point.fields.items():
        if value is None:
            continue
        kind = m.field(name).kind
        assert isinstance(value, KINDS[kind]) and not isinstance(value, bool), (name, value)


def test_schema_names_are_unique_and_documented():
    for m in schema.MEASUREMENTS.values():
        assert len(set(m.field_names)) == len(m.field_names)
        assert len(set(m.tags)) == len(m.tags)
        assert all(f.unit and f.doc for f in m.fields)


def test_telemetry_samples_conform():
    doc = fakegpu.document(2, 50.0, 0.3)
    import json

    parsed = TOOLS["rocm-smi"].parse_json(json.dumps(doc))
    assert parsed.samples
    for sample in parsed.samples:
        conforms(sample.to_point("r", "h", 1))
    conforms(HostSample({"cpu_pct": 1.0, "mem_used_bytes": 1, "mem_total_bytes": 2,
                         "load1": 0.5}).to_point("r", "h", 1))
    conforms(EngineSample("vllm", {"requests_running": 1, "prompt_tokens_total": 3})
             .to_point("r", "h", 1))


def _worker_delta(collector: Collector, records: list) -> dict:
    for r in records:
        collector.on_sent(r.start_wall_ns)
        collector.on_finished(r)
    return collector.drain()


def _series(**kw) -> LoadSeries:
    s0 = stage(BASE, BASE)
    return LoadSeries("run", BASE, 1.5, lambda ns_: s0 if ns_ >= BASE else None, **kw)


def test_load_series_one_point_per_second_with_exact_token_rates():
    series = _series()
    a, b = staged(BASE), staged(BASE)  # two workers, measured from the start
    series.absorb(_worker_delta(a, [record(0, [100, 200, 1100], 3)]))
    series.absorb(_worker_delta(b, [record(500, [300, 600, 1300], 3, error=None)]))
    series.note(BASE + ns(500), 7)
    assert series.due(BASE + ns(2400)) == []  # second 0 is due 1.5 s after its end
    points = series.due(BASE + ns(3500))
    assert [p.time_ns for p in points] == [BASE, BASE + SECOND_NS]
    first, second = (p.fields for p in points)
    # tokens at 100, 200, 800 ms | 1100, 1100, 1800 ms
    assert first["output_tps"] == 3.0 and second["output_tps"] == 3.0
    assert first["rps"] == 0.0 and second["rps"] == 2.0  # completions at 1.1 s and 1.8 s
    assert first["total_tps"] == 3.0 + 200  # input tokens of the two requests started in it
    assert first["users"] == second["users"] == 7
    assert points[0].tags == {"run_id": "run", "scenario": "custom", "stage": "custom@0"}
    for point in points:
        conforms(point)


def test_load_percentiles_come_from_merged_histograms_of_the_interval():
    series = _series()
    a, b = staged(BASE), staged(BASE)
    ra = [record(i * 10, [50 + i, 60 + i], 2) for i in range(10)]
    rb = [record(i * 10, [200 + i, 210 + i], 2) for i in range(10)]
    series.absorb(_worker_delta(a, ra))
    series.absorb(_worker_delta(b, rb))
    merged = Histogram()
    for r in ra + rb:
        merged.record(r.timing.ttft_ms)
    (point,) = series.due(BASE + ns(2500))
    for q in (50, 90, 99):
        assert point.fields[f"ttft_p{q}_ms"] == merged.percentile(q)
    assert point.fields["itl_p50_ms"] == pytest.approx(10.0, abs=0.05)
    # the next second got no new deltas: no percentile fields at all (absent, not 0)
    (empty,) = series.due(BASE + ns(3500))
    assert empty.fields["ttft_p99_ms"] is None and empty.fields["errors"] == 0


def test_late_data_moves_to_the_next_second_and_totals_are_kept():
    series = _series()
    series.due(BASE + ns(3500))  # seconds 0 and 1 emitted (with no data)
    late = _worker_delta(staged(BASE), [record(0, [100, 1200], 2)])  # tokens of seconds 0, 1
    series.absorb(late)
    points = series.flush(BASE + ns(3200))
    assert [p.time_ns for p in points] == [BASE + 2 * SECOND_NS, BASE + 3 * SECOND_NS]
    assert points[0].fields["output_tps"] == 2.0


def test_errors_and_in_flight():
    series = _series()
    c = staged(BASE)
    c.on_sent(BASE + ns(10))  # still running
    delta = _worker_delta(c, [record(0, [], None, error="http_500"),
                              record(5, [], None, error="timeout_first_token")])
    series.absorb(delta)
    series.note(BASE + ns(1500), 3)
    (_, point) = series.flush(BASE + ns(1500))
    assert point.fields["errors"] == 2
    assert (point.fields["users"], point.fields["in_flight"]) == (3, 1)


def test_request_points_never_share_a_timestamp_within_a_series():
    builder = RequestPoints("run", "vllm", "m", "chat", "host:1")
    builder.stage_names[0] = "medium@8"
    r1 = record(0, [10, 20], 2)
    r1.stage, r1.scenario = 0, "medium"
    r2 = record(0, [10, 20], 2)  # ends at the same nanosecond
    r2.stage, r2.scenario = 0, "medium"
    warm = record(0, [10, 20], 2)  # same end, other series (warm-up)
    warm.scenario = "medium"
    failed = record(0, [], None, error="http_503")
    failed.stage, failed.scenario = 0, "medium"
    p1, p2, p3, p4 = (builder.point(r, users=4) for r in (r1, r2, warm, failed))
    assert p2.time_ns == p1.time_ns + 1 and p3.time_ns == p1.time_ns
    assert (p1.tags["stage"], p3.tags["stage"], p4.tags["status"]) == ("medium@8", "warmup",
                                                                       "http_503")
    assert p1.fields["ttft_ms"] == pytest.approx(10.0) and p1.fields["itl_max_ms"] == 10.0
    assert p4.fields["ttft_ms"] is None and p4.fields["users"] == 4
    for p in (p1, p2, p3, p4):
        conforms(p)
        assert set(p.tags) == set(schema.REQUEST.tags)


def test_stage_events_and_process_sampler_conform():
    s = stage(BASE + ns(2000), BASE)
    events = stage_events("run", s)
    assert [p.tags["kind"] for p in events] == ["stage_start", "stage_measure"]
    sampler = ProcessSampler("run", "host:1", lambda: 1.25)
    end = sum(i * i for i in range(300_000))  # some CPU for this process
    point = sampler.sample(BASE)
    assert end > 0 and point.fields["process_cpu_pct"] > 0
    assert point.fields["loop_lag_p99_ms"] == 1.25  # from the process's health monitor
    for p in [*events, point]:
        conforms(p)
