"""Stage attribution and per-stage summaries (tokenswarm.stages, collector, results)."""

from __future__ import annotations

import json

import pytest
from records import BASE, ns, record, stage

from tokenswarm.collector import Collector
from tokenswarm.results import build_summary, stage_rows
from tokenswarm.slo import SloConfig
from tokenswarm.stages import StageInfo, StageTimeline

SECOND = 1_000_000_000


def _two_stage_timeline() -> StageTimeline:
    """stage 0 starts at 0 s, measures from 1 s; stage 1 starts at 5 s, measures from 6 s."""
    timeline = StageTimeline()
    timeline.add(stage(BASE + SECOND, BASE, 0, "short"))
    timeline.add(stage(BASE + 6 * SECOND, BASE + 5 * SECOND, 1, "medium"))
    return timeline


@pytest.mark.parametrize(
    ("start_ms", "index", "measured"),
    [(-10, 0, False), (0, 0, False), (999, 0, False), (1000, 0, True), (4999, 0, True),
     (5000, 1, False), (5999, 1, False), (6000, 1, True), (60_000, 1, True)],
)
def test_locate_attributes_by_start_time(start_ms, index, measured):
    got, in_window = _two_stage_timeline().locate(BASE + ns(start_ms))
    assert got is not None and got.index == index and in_window is measured


def test_windows_end_where_the_next_stage_starts():
    assert _two_stage_timeline().windows(BASE + 9 * SECOND) == [
        (BASE + SECOND, BASE + 5 * SECOND), (BASE + 6 * SECOND, BASE + 9 * SECOND)]
    # stopped during stage 1's warm-up: an empty window, never a negative one
    assert _two_stage_timeline().windows(BASE + 5_500_000_000)[1] == (BASE + 6 * SECOND,) * 2


def test_next_start():
    timeline = _two_stage_timeline()
    assert timeline.next_start(0) == BASE + 5 * SECOND and timeline.next_start(1) is None


def test_rebroadcast_replaces_and_wire_round_trips():
    timeline = _two_stage_timeline()
    again = StageInfo.from_wire(json.loads(json.dumps(timeline.stages[1].to_wire())))
    timeline.add(again)
    assert len(timeline.stages) == 2 and timeline.current == again


def _collector() -> Collector:
    c = Collector(timeline=_two_stage_timeline())
    # stage 0: one warm-up request, two measured (TTFT 10 and 30 ms)
    for rec in (record(500, [10, 20], 2), record(1500, [10, 20], 2), record(2000, [30, 40], 2)):
        c.on_sent(rec.start_wall_ns)
        c.on_finished(rec)
    # started in stage 0's window, ended after stage 1 began: a transition request
    c.on_finished(record(4900, [200, 300], 2))
    # stage 1: one measured ok (TTFT 50 ms), one failure
    c.on_finished(record(6500, [50, 60], 2))
    c.on_finished(record(7000, [], None, error="http_429"))
    return c


def test_per_stage_histograms_and_rows():
    c = _collector()
    s0, s1 = c.stage_stats(0), c.stage_stats(1)
    assert s0.counts["ok"] == 2 and s0.counts["warmup_sent"] == 1 and s0.counts["sent"] == 2
    assert s0.counts["transition"] == 1  # its latencies describe neither stage
    assert s0.hists["ttft_ms"].count == 2 and s1.hists["ttft_ms"].count == 1
    assert s1.errors == {"http_429": 1}
    assert [(r["stage"], r["scenario"], r["phase"]) for r in c.rows] == [
        (0, "short", "warmup"), (0, "short", "measure"), (0, "short", "measure"),
        (0, "short", "transition"), (1, "medium", "measure"), (1, "medium", "measure")]


def test_summary_has_one_block_per_stage_and_slo_verdicts():
    slo = SloConfig.from_mapping({"ttft_p99_ms": 40, "itl_p99_ms": "off", "error_pct": 10})
    summary = build_summary(_collector(), BASE + 9 * SECOND, run_id="r", started_ns=BASE,
                            config={"kind": "sweep"}, workers=[], locust_version="x", slo=slo)
    first, second = summary["stages"]
    assert (first["name"], first["scenario"], second["scenario"]) == ("short@0", "short",
                                                                      "medium")
    assert first["window"]["seconds"] == 4.0 and second["window"]["seconds"] == 3.0
    assert first["requests"]["ok"] == 2 and first["requests"]["transition"] == 1
    assert second["requests"]["failed"] == 1
    assert second["metrics"]["ttft_ms"]["max"] == pytest.approx(50, rel=0.01)
    # stage 0: TTFT p99 = 30 ms < 40 (the transition request's 200 ms is not in it): passes;
    # stage 1: 50 ms > 40 and 50 % errors: fails
    assert first["slo"]["pass"] is True and second["slo"]["pass"] is False
    assert [c["key"] for c in second["slo"]["checks"]] == ["ttft_p99_ms", "error_pct"]
    assert second["slo"]["checks"][1]["value"] == pytest.approx(50.0)
    # the top level covers both stages: 3 ok requests, 7 s of windows
    assert summary["requests"]["ok"] == 3 and summary["metrics"]["ttft_ms"]["count"] == 3
    # tokens: stage 0's window [1 s, 5 s) holds 2 + 2 tokens; the long request's tokens at
    # 5.1 and 5.2 s fall in stage 1's warm-up, outside both windows
    assert first["throughput"]["output_tps"] == pytest.approx(4 / 4.0)
    rows = stage_rows(summary)
    assert [r["users"] for r in rows] == [1, 1] and [r["slo_pass"] for r in rows] == [True, False]
    json.dumps(summary, allow_nan=False)
