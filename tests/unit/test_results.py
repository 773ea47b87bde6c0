"""results.py: the measurement window, summary throughput formulas, requests.csv, summary.json."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from records import BASE, ns, record, staged

from tokenswarm import __version__
from tokenswarm.collector import BUCKET_NS, METRICS, Collector
from tokenswarm.results import (
    CSV_COLUMNS,
    RequestsCsv,
    Window,
    build_summary,
    iso,
    write_summary,
)

SECOND = 1_000_000_000
def _summary(c: Collector, window: Window, **kw):
    args = {
        "run_id": "run-1",
        "started_ns": BASE,
        "config": {"users": 4},
        "workers": ["w1", "w2"],
        "locust_version": "2.99",
    }
    args.update(kw)
    return build_summary(c, window.end_ns, **args)


# --- Window -----------------------------------------------------------------------------------


def test_window_seconds():
    assert Window(BASE, BASE + 10 * SECOND).seconds == 10.0
    assert Window(BASE, BASE + 1_500_000_000).seconds == 1.5
    assert Window(BASE, BASE).seconds == 1e-9  # never zero: no division by zero


def test_window_total_includes_only_buckets_inside():
    b0 = BASE // BUCKET_NS
    buckets = Counter({b0 - 1: 1000.0, b0: 1.0, b0 + 5: 2.0, b0 + 9: 4.0, b0 + 10: 8000.0})
    # [BASE, BASE + 1 s): buckets b0 .. b0 + 9
    assert Window(BASE, BASE + SECOND).total(buckets) == 7.0
    # a bucket counts when it starts inside the window
    assert Window(BASE, BASE + SECOND + 1).total(buckets) == 8007.0
    assert Window(BASE + 1, BASE + SECOND).total(buckets) == 6.0
    assert Window(BASE + SECOND, BASE + 2 * SECOND).total(buckets) == 8000.0
    assert Window(BASE, BASE + SECOND).total(Counter()) == 0.0


def test_aligned_window_excludes_tokens_outside_an_unaligned_span():
    c = staged(0)
    # tokens at +1000 ms and +1040 ms (before the span) and 10 inside it
    c.on_finished(record(0, [1000, 1040], 2))
    c.on_finished(record(1100, [10 * i for i in range(1, 11)], 10))
    window = Window.aligned(BASE + ns(1050), BASE + ns(2050))
    assert (window.start_ns, window.end_ns) == (BASE + ns(1100), BASE + ns(2000))
    assert window.total(c.output_token_buckets) == 10.0
    assert window.seconds == 0.9


def test_aligned_window_never_negative():
    window = Window.aligned(BASE + ns(1050), BASE + ns(1060))
    assert window.start_ns == window.end_ns == BASE + ns(1100)
    assert window.total(Counter({(BASE + ns(1000)) // BUCKET_NS: 5.0})) == 0.0


# --- build_summary ----------------------------------------------------------------------------


def _populated() -> tuple[Collector, Window]:
    """warm-up 1 s, window [1 s, 11 s) exactly on bucket edges."""
    mf = BASE + SECOND
    c = staged(mf)
    events = [
        # warm-up request: 4 tokens before the window, 4 inside it
        record(500, [100, 200, 300, 400, 600, 700, 800, 900], 8, input_tokens=1000),
        # inside: 10 tokens, 200 input tokens, completes at 3 s
        record(2000, [100 * i for i in range(1, 11)], 10, input_tokens=200, requested=10),
        # inside: 5 tokens, completes at 5.5 s; short output, prompt mismatch
        record(5000, [100, 200, 300, 400, 500], 5, input_tokens=310, expected_input=300,
               requested=16),
        # starts inside, streams past the end (11 s): 3 tokens inside, 2 after
        record(10_500, [100, 200, 300, 600, 700], 5, input_tokens=50),
        # rejected inside (no token, never prefilled): its input tokens do not count
        record(6000, [], None, error="http_500", input_tokens=40),
        record(6100, [], None, error="timeout_first_token", input_tokens=None),
    ]
    for rec in events:
        c.on_sent(rec.start_wall_ns)
        c.on_finished(rec)
    # interrupted at stop: 2 tokens inside the window
    c.on_sent(BASE + ns(10_800))
    c.on_interrupted(record(10_800, [50, 100], None))
    return c, Window(mf, BASE + 11 * SECOND)


def test_summary_throughput_formulas():
    c, window = _populated()
    s = _summary(c, window)
    out_in_window = 4 + 10 + 5 + 3 + 2
    # the interrupted stream's 100 prompt tokens count: a token arrived, so prefill happened
    in_in_window = 200 + 310 + 50 + 100
    assert window.seconds == 10.0
    assert s["throughput"]["output_tps"] == pytest.approx(out_in_window / 10.0)
    assert s["throughput"]["total_tps"] == pytest.approx((out_in_window + in_in_window) / 10.0)
    # completed OK inside the window: 3, the warm-up request ending at 1.4 s included (the
    # one ending at 11.2 s is outside)
    assert s["throughput"]["rps"] == pytest.approx(3 / 10.0)


def test_summary_requests_and_tokens():
    c, window = _populated()
    s = _summary(c, window)
    assert s["requests"] == {
        "sent": 6,
        "ok": 3,
        "failed": 2,
        "interrupted": 1,
        "transition": 0,
        "good": 0,
        "warmup_excluded": 1,
    }
    assert s["errors"] == {"http_500": 1, "timeout_first_token": 1}
    assert list(s["errors"]) == sorted(s["errors"])
    tok = s["tokens"]
    assert tok["output_tokens"] == 10 + 5 + 5
    assert tok["input_tokens"] == 200 + 310 + 50
    assert tok["short_outputs"] == 1
    assert tok["output_tokens_source"] == {"usage": 3}
    assert tok["prompt_tokens_mismatch"] == {"requests": 1, "mean_abs_diff": 10.0}


def test_summary_metrics_from_histograms():
    c, window = _populated()
    s = _summary(c, window)
    assert set(s["metrics"]) == set(METRICS)
    ttft = s["metrics"]["ttft_ms"]
    assert ttft["count"] == 3
    assert ttft["min"] == pytest.approx(100.0) and ttft["max"] == pytest.approx(100.0)
    assert s["metrics"]["itl_ms"]["count"] == 9 + 4 + 4
    assert s["metrics"]["e2e_ms"]["max"] == pytest.approx(1000.0)


def test_summary_header_window_and_versions():
    c, window = _populated()
    s = _summary(c, window)
    assert s["schema"] == "tokenswarm.summary/2"
    assert s["run_id"] == "run-1"
    assert s["started_at"] == iso(BASE)
    assert s["window"] == {
        "start": iso(BASE + SECOND),
        "end": iso(BASE + 11 * SECOND),
        "seconds": 10.0,
        "warmup_s": 1.0,
    }
    assert s["config"] == {"users": 4}
    assert s["workers"] == ["w1", "w2"]
    assert s["versions"]["tokenswarm"] == __version__
    assert s["versions"]["locust"] == "2.99"
    assert s["versions"]["python"].count(".") == 2
    json.dumps(s, allow_nan=False)  # strictly valid JSON


def test_summary_of_empty_collector():
    s = _summary(staged(BASE), Window(BASE, BASE + SECOND))
    assert s["throughput"] == {"output_tps": 0.0, "total_tps": 0.0, "rps": 0.0,
                               "goodput_rps": 0.0}
    assert s["requests"]["ok"] == 0
    assert s["errors"] == {}
    assert s["metrics"]["ttft_ms"]["p50"] is None
    assert s["tokens"]["prompt_tokens_mismatch"] == {"requests": 0, "mean_abs_diff": 0.0}
    json.dumps(s, allow_nan=False)


def test_summary_after_merge_of_worker_deltas():
    """The master builds the summary from merged deltas: same numbers as one process."""
    c, window = _populated()
    master = staged(c.timeline.current.measure_from_ns)
    master.merge(json.loads(json.dumps(c.drain())))
    c2, _ = _populated()
    assert _summary(master, window) == _summary(c2, window)


# --- iso / RequestsCsv ------------------------------------------------------------------------


def test_iso_format():
    assert iso(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123+00:00"
    assert iso(0) == "1970-01-01T00:00:00.000+00:00"


def test_requests_csv(tmp_path: Path):
    c = staged(BASE + SECOND)
    c.on_finished(record(500, [100, 200], 2, input_tokens=7, worker="w1"))
    c.on_finished(record(2000, [50, 90], 2, requested=4, worker="w2"))
    c.on_finished(record(2100, [], None, error="http_429", worker="w2"))
    rows = c.drain()["rows"]
    rows[0]["unexpected_extra_key"] = "ignored"

    path = tmp_path / "nested" / "run" / "requests.csv"
    out = RequestsCsv(path)
    out.write(rows[:1])
    # flushed per write: readable before close
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2
    out.write(rows[1:])
    out.write([])
    assert out.rows_written == 3
    out.close()

    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        got = list(reader)
    assert len(got) == 3
    assert got[0]["start_time"] == iso(BASE + ns(500))
    assert got[0]["start_time"].endswith("+00:00")
    assert got[0]["start_unix_ns"] == str(BASE + ns(500))
    assert got[0]["phase"] == "warmup" and got[1]["phase"] == "measure"
    assert got[0]["input_tokens"] == "7"
    assert got[1]["ttft_ms"] == "50.0" and got[1]["e2e_ms"] == "90.0"
    assert got[1]["requested_output_tokens"] == "4"
    assert got[1]["worker"] == "w2"
    assert got[2]["status"] == "error" and got[2]["error_class"] == "http_429"
    assert got[2]["ttft_ms"] == ""  # None -> empty cell
    assert got[2]["error_detail"] == "detail of http_429"
    assert "unexpected_extra_key" not in got[0]


def test_requests_csv_quotes_awkward_error_detail(tmp_path: Path):
    out = RequestsCsv(tmp_path / "r.csv")
    row = {"start_unix_ns": BASE, "status": "error", "error_detail": 'a,b\n"c"'}
    out.write([row])
    out.close()
    with (tmp_path / "r.csv").open(newline="", encoding="utf-8") as f:
        (got,) = list(csv.DictReader(f))
    assert got["error_detail"] == 'a,b\n"c"'


# --- write_summary ----------------------------------------------------------------------------


def test_write_summary_atomic(tmp_path: Path):
    run_dir = tmp_path / "results" / "run-1"
    c, window = _populated()
    summary = _summary(c, window, config={"path": Path("/x/y"), "users": 4})
    path = write_summary(run_dir, summary)
    assert path == run_dir / "summary.json"
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert loaded["config"] == {"path": "/x/y", "users": 4}  # non-JSON values via str()
    assert loaded["throughput"] == summary["throughput"]
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert sorted(p.name for p in run_dir.iterdir()) == ["summary.json"]  # no temp left

    # a rewrite replaces the file (a new inode: never truncated and rewritten in place)
    inode = os.stat(path).st_ino
    keep_open = path.open(encoding="utf-8")
    write_summary(run_dir, {**summary, "run_id": "run-2"})
    assert os.stat(path).st_ino != inode
    assert json.loads(keep_open.read())["run_id"] == "run-1"  # readers see a whole old file
    keep_open.close()
    assert json.loads(path.read_text(encoding="utf-8"))["run_id"] == "run-2"
    assert sorted(p.name for p in run_dir.iterdir()) == ["summary.json"]
