"""Collector: warm-up exclusion, counters, token-time buckets, drain/merge (exact), msgpack."""

from __future__ import annotations

import json
import random

import msgpack
import pytest
from records import BASE, ns, record, staged

from tokenswarm.collector import BUCKET_NS, METRICS, Collector, RequestRecord


def _bucket(ms: float) -> int:
    return (BASE + ns(ms)) // BUCKET_NS


# --- warm-up ----------------------------------------------------------------------------------


def test_warmup_requests_only_in_rows():
    c = staged(BASE + ns(1000))
    warm = record(500, [20, 40, 60], 3)
    real = record(1500, [30, 50, 70], 3)
    c.on_sent(warm.start_wall_ns)
    c.on_sent(real.start_wall_ns)
    c.on_finished(warm)
    c.on_finished(real)

    assert c.overall().counts["warmup_sent"] == 1
    assert c.overall().counts["sent"] == 1
    assert c.overall().counts["ok"] == 1
    assert c.overall().counts["output_tokens"] == 3
    assert c.overall().counts["input_tokens"] == 100
    assert [r["phase"] for r in c.rows] == ["warmup", "measure"]
    assert c.overall().hists["ttft_ms"].count == 1
    assert c.overall().hists["ttft_ms"].min_ms == pytest.approx(30.0)
    assert c.overall().hists["e2e_ms"].max_ms == pytest.approx(70.0)
    assert c.overall().hists["itl_ms"].count == 2
    assert c.overall().hists["chunk_gap_ms"].count == 2
    assert c.overall().hists["tpot_ms"].count == 1
    # the warm-up request is in no request counter; the time series hold both requests (each
    # window reads its own buckets, so warm-up time is excluded by time)
    assert c.completion_buckets == {_bucket(560): 1, _bucket(1570): 1}
    assert dict(c.input_token_buckets) == {_bucket(500): 100, _bucket(1500): 100}


def test_warmup_tokens_still_counted_by_arrival_time():
    """Token-time accounting: a warm-up request's tokens land in the buckets they arrived in."""
    c = staged(BASE + ns(1000))
    c.on_finished(record(900, [50, 150, 250], 3))  # tokens at 950, 1050, 1150 ms
    assert dict(c.output_token_buckets) == {_bucket(950): 1.0, _bucket(1050): 1.0,
                                            _bucket(1150): 1.0}
    assert c.overall().counts["ok"] == 0 and c.overall().hists["ttft_ms"].count == 0


def test_request_starting_exactly_at_measure_from_counts():
    c = staged(BASE + ns(1000))
    assert c.timeline.locate(BASE + ns(1000) - 1)[1] is False
    assert c.timeline.locate(BASE + ns(1000))[1] is True
    c.on_finished(record(1000, [10], 1))
    assert c.overall().counts["ok"] == 1 and c.rows[0]["phase"] == "measure"


def test_warmup_failures_not_counted():
    c = staged(BASE + ns(1000))
    c.on_finished(record(10, [], None, error="http_503"))
    assert c.overall().counts["failed"] == 0
    assert not c.overall().errors
    assert c.rows[0]["phase"] == "warmup" and c.rows[0]["status"] == "error"


# --- errors -----------------------------------------------------------------------------------


def test_errors_counted_by_class():
    c = staged(0)
    for cls in ("http_500", "http_500", "timeout_idle", "stream_truncated", "http_429"):
        c.on_finished(record(0, [], None, error=cls, input_tokens=None))
    c.on_finished(record(0, [10, 20], 2))
    assert c.overall().counts["failed"] == 5
    assert c.overall().counts["ok"] == 1
    assert dict(c.overall().errors) == {"http_500": 2, "timeout_idle": 1, "stream_truncated": 1,
                              "http_429": 1}
    # failures add no latency samples and no completions
    assert c.overall().hists["ttft_ms"].count == 1
    assert sum(c.completion_buckets.values()) == 1
    rows = [r for r in c.rows if r["status"] == "error"]
    assert [r["error_class"] for r in rows] == [
        "http_500", "http_500", "timeout_idle", "stream_truncated", "http_429"]
    assert rows[0]["error_detail"] == "detail of http_500"
    assert rows[0]["ttft_ms"] is None


def test_failed_stream_tokens_count_by_time_not_as_output_tokens():
    c = staged(0)
    c.on_finished(record(0, [10, 20, 30], None, error="timeout_idle"))
    assert sum(c.output_token_buckets.values()) == 3.0  # one token per chunk
    assert c.overall().counts["output_tokens"] == 0
    assert c.rows[0]["chunks"] == 3


def test_rejected_request_adds_no_input_tokens_but_a_prefilled_failure_does():
    c = staged(0)
    c.on_finished(record(0, [], None, error="http_500", input_tokens=64))
    assert dict(c.input_token_buckets) == {}  # never prefilled: no input work in total_tps
    c.on_finished(record(0, [10], None, error="stream_truncated", input_tokens=32))
    assert dict(c.input_token_buckets) == {_bucket(0): 32}
    assert c.overall().counts["input_tokens"] == 0  # only successful requests' tokens are totals


# --- short outputs / prompt mismatch / sources ------------------------------------------------


def test_short_outputs():
    c = staged(0)
    c.on_finished(record(0, [10, 20], 100, requested=128))
    c.on_finished(record(0, [10, 20], 128, requested=128))
    c.on_finished(record(0, [10, 20], 200, requested=128))
    c.on_finished(record(0, [10, 20], 5, requested=None))
    c.on_finished(record(0, [10], None, requested=16, source="chunks"))
    assert c.overall().counts["short_outputs"] == 2


def test_prompt_token_mismatch():
    c = staged(0)
    c.on_finished(record(0, [10], 1, input_tokens=133, expected_input=128))
    c.on_finished(record(0, [10], 1, input_tokens=120, expected_input=128))
    c.on_finished(record(0, [10], 1, input_tokens=128, expected_input=128))
    c.on_finished(record(0, [10], 1, input_tokens=128, expected_input=None))
    c.on_finished(record(0, [10], 1, input_tokens=None, expected_input=128))
    assert c.overall().counts["prompt_tokens_mismatch"] == 2
    assert c.overall().counts["prompt_tokens_abs_diff"] == 5 + 8


def test_output_token_sources_counted():
    c = staged(0)
    c.on_finished(record(0, [10], 1, source="usage"))
    c.on_finished(record(0, [10], 1, source="usage"))
    c.on_finished(record(0, [10], 1, source="tokenizer"))
    assert c.overall().counts["output_tokens_source_usage"] == 2
    assert c.overall().counts["output_tokens_source_tokenizer"] == 1


def test_itl_samples_weighted_by_tokens():
    c = staged(0)
    c.on_finished(record(0, [20, 160, 300, 430], 12, cumulative=[1, 5, 9, 12]))
    h = c.overall().hists["itl_ms"]
    assert h.count == 11
    assert h.sum_ms == pytest.approx(140 + 140 + 130)
    assert h.max_ms == pytest.approx(130 / 3)
    assert h.min_ms == pytest.approx(140 / 4)
    assert c.overall().hists["chunk_gap_ms"].count == 3
    assert dict(c.output_token_buckets) == {_bucket(20): 1.0, _bucket(160): 4.0,
                                            _bucket(300): 4.0, _bucket(430): 3.0}


# --- interrupted ------------------------------------------------------------------------------


def test_interrupted_tokens_count_request_does_not():
    c = staged(BASE + ns(1000))
    c.on_interrupted(record(1200, [10, 20], None))
    c.on_interrupted(record(100, [10], None))  # warm-up
    assert c.overall().counts["interrupted"] == 1
    assert sum(c.output_token_buckets.values()) == 3.0
    assert not c.rows
    assert c.overall().counts["ok"] == 0 and c.overall().counts["failed"] == 0
    assert all(h.count == 0 for h in c.overall().hists.values())


# --- rows -------------------------------------------------------------------------------------


def test_row_contents():
    c = staged(0)
    rec = record(0, [20, 60, 100, 130], 12, cumulative=[1, 5, 9, 12], requested=12,
                 input_tokens=50, worker="host-3")
    c.on_finished(rec)
    row = c.rows[0]
    assert row["start_unix_ns"] == BASE
    assert row["phase"] == "measure" and row["status"] == "ok" and row["error_class"] == ""
    assert row["ttft_ms"] == 20.0
    assert row["e2e_ms"] == 130.0
    assert row["tpot_ms"] == 10.0
    assert row["itl_mean_ms"] == 10.0
    assert row["input_tokens"] == 50 and row["output_tokens"] == 12
    assert row["requested_output_tokens"] == 12
    assert row["chunks"] == 4
    assert row["worker"] == "host-3"


def test_row_values_rounded_to_microseconds():
    c = staged(0)
    c.on_finished(record(0, [1.2345678, 2.0], 2))
    assert c.rows[0]["ttft_ms"] == 1.235


# --- drain / merge ----------------------------------------------------------------------------


def _assert_empty(c: Collector) -> None:
    assert set(c.overall().hists) == set(METRICS)
    assert all(h.count == 0 and not h.counts for h in c.overall().hists.values())
    assert not c.overall().counts and not c.overall().errors and not c.rows
    assert not c.output_token_buckets and not c.input_token_buckets
    assert not c.completion_buckets


def test_drain_returns_delta_and_resets():
    c = staged(BASE)
    c.on_sent(BASE)
    c.on_finished(record(0, [10, 20], 2))
    c.on_finished(record(0, [], None, error="http_500"))
    delta = c.drain()
    stage0 = delta["stages"]["0"]
    assert stage0["counts"]["ok"] == 1 and stage0["counts"]["sent"] == 1
    assert stage0["errors"] == {"http_500": 1}
    assert set(stage0["hists"]) == {"ttft_ms", "e2e_ms", "tpot_ms", "itl_ms", "chunk_gap_ms"}
    assert len(delta["rows"]) == 2
    assert c.timeline.current.measure_from_ns == BASE  # the stages survive a drain
    _assert_empty(c)
    # a second drain is empty and carries no histograms
    empty = c.drain()
    assert empty["stages"] == {} and empty["rows"] == []
    # recording after a drain starts from zero
    c.on_finished(record(0, [10], 1))
    assert c.drain()["stages"]["0"]["counts"]["ok"] == 1


def test_drained_rows_not_shared_with_new_rows():
    c = staged(0)
    c.on_finished(record(0, [10], 1))
    delta = c.drain()
    c.on_finished(record(0, [10], 1))
    assert len(delta["rows"]) == 1 and len(c.rows) == 1


def _workload(seed: int, worker: str, n: int = 60) -> list[tuple[str, RequestRecord]]:
    rng = random.Random(seed)
    out: list[tuple[str, RequestRecord]] = []
    for _ in range(n):
        start = rng.uniform(0, 3000)  # warm-up ends at 1000 ms
        n_chunks = rng.randint(1, 12)
        chunks, t = [], rng.uniform(5, 400)
        for _ in range(n_chunks):
            chunks.append(t)
            t += rng.uniform(0.2, 40)
        kind = rng.random()
        if kind < 0.15:
            out.append(("finished", record(start, [], None, error=rng.choice(
                ["http_500", "timeout_first_token", "connection_error"]), worker=worker)))
        elif kind < 0.25:
            out.append(("interrupted", record(start, chunks, None, worker=worker)))
        else:
            tokens = n_chunks * rng.randint(1, 4)
            cum = None
            if rng.random() < 0.5:
                cum, total = [], 0
                for _ in range(n_chunks):
                    total += rng.randint(1, 4)
                    cum.append(total)
                tokens = total
            out.append(("finished", record(
                start, chunks, tokens, cumulative=cum, requested=rng.choice([None, 8, 64]),
                input_tokens=rng.randint(50, 150), expected_input=rng.choice([None, 100]),
                source=rng.choice(["usage", "tokenizer"]), worker=worker)))
    return out


def _play(c: Collector, events) -> None:
    for kind, rec in events:
        c.on_sent(rec.start_wall_ns)
        if kind == "finished":
            c.on_finished(rec)
        else:
            c.on_interrupted(rec)


def _assert_same(merged: Collector, single: Collector) -> None:
    for m in METRICS:
        a, b = merged.overall().hists[m], single.overall().hists[m]
        assert a.counts == b.counts, m
        assert a.count == b.count, m
        assert a.min_ms == b.min_ms and a.max_ms == b.max_ms, m
        assert a.sum_ms == pytest.approx(b.sum_ms, rel=1e-12), m
        for q in (50, 90, 95, 99, 99.9, 100):
            assert a.percentile(q) == b.percentile(q), (m, q)
    assert merged.overall().counts == single.overall().counts
    assert merged.overall().errors == single.overall().errors
    assert set(merged.output_token_buckets) == set(single.output_token_buckets)
    assert dict(merged.output_token_buckets) == pytest.approx(dict(single.output_token_buckets))
    assert merged.input_token_buckets == single.input_token_buckets
    assert merged.completion_buckets == single.completion_buckets


def _through_msgpack(delta):
    # exactly how Locust's rpc packs/unpacks report_to_master data
    return msgpack.loads(msgpack.dumps(delta), raw=False, strict_map_key=False)


@pytest.mark.parametrize("transport", ["direct", "msgpack", "json"])
def test_merge_of_drained_deltas_equals_single_collector(transport):
    convert = {
        "direct": lambda d: d,
        "msgpack": _through_msgpack,
        "json": lambda d: json.loads(json.dumps(d)),
    }[transport]
    mf = BASE + ns(1000)
    w1, w2 = _workload(1, "w1"), _workload(2, "w2")
    single = staged(mf)
    _play(single, w1 + w2)

    a, b = staged(mf), staged(mf)
    master = staged(mf)
    rows = []
    # several report intervals per worker, interleaved
    for i in range(0, 60, 20):
        _play(a, w1[i:i + 20])
        rows += master.merge(convert(a.drain()))
        _play(b, w2[i:i + 20])
        rows += master.merge(convert(b.drain()))
    rows += master.merge(convert(a.drain()))  # the final, empty, report
    _assert_same(master, single)
    assert sorted(map(str, rows)) == sorted(map(str, single.rows))
    counts = master.overall().counts
    assert sum(counts[k] for k in ("ok", "failed")) > 50  # the workload is not trivial
    assert counts["warmup_sent"] > 0 and counts["interrupted"] > 0


def test_merge_returns_rows_and_does_not_store_them():
    c = staged(0)
    c.on_finished(record(0, [10], 1))
    master = staged(0)
    rows = master.merge(c.drain())
    assert len(rows) == 1 and rows[0]["status"] == "ok"
    assert master.rows == []


def test_delta_survives_msgpack_unchanged():
    c = staged(BASE + ns(1000))
    _play(c, _workload(5, "w9", n=30))
    delta = c.drain()
    back = _through_msgpack(delta)
    assert back == delta  # int bucket keys, float token counts, None row values all survive
    assert all(isinstance(k, int) for k in back["out_tok"])
