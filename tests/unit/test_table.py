"""format_summary: the terminal table of a built summary (after a JSON round trip)."""

from __future__ import annotations

import json

from records import BASE, record, staged

from tokenswarm.collector import RequestRecord
from tokenswarm.results import Window, build_summary
from tokenswarm.table import format_summary

MS = 1_000_000
SECOND = 1_000_000_000


def _failed(start_ms: int, error: str) -> RequestRecord:
    return record(start_ms, [], None, error=error, input_tokens=None)


def _summary(records: list[RequestRecord], *, warmup_ms: int = 2000) -> dict:
    c = staged(BASE + warmup_ms * MS)
    for rec in records:
        c.on_sent(rec.start_wall_ns)
        c.on_finished(rec)
    window = Window(BASE + warmup_ms * MS, BASE + warmup_ms * MS + 10 * SECOND)
    summary = build_summary(c, window.end_ns, run_id="demo-7", started_ns=BASE, config={},
                            workers=["w1"], locust_version="x")
    return json.loads(json.dumps(summary))  # what `tokenswarm run` reads back


def _line(text: str, prefix: str) -> str:
    (line,) = [ln for ln in text.splitlines() if ln.startswith(prefix)]
    return line


def test_renders_header_rows_throughput_and_counts():
    records = [
        record(3000, [100, 120, 140, 160], 4, requested=4),
        record(4000, [250, 270, 290, 1600], 4, requested=4),
        record(500, [100, 200], 2),  # warm-up
        _failed(5000, "http_500"),
        _failed(5100, "http_500"),
        _failed(5200, "timeout_idle"),
    ]
    s = _summary(records)
    text = format_summary(s, "results/demo-7")
    lines = text.splitlines()
    assert lines[0] == ("tokenswarm results: run demo-7  (window 10.0 s, warm-up 2.0 s "
                        "excluded)")
    assert lines[1].split() == ["metric", "(ms)", "count", "mean", "p50", "p90", "p95", "p99",
                                "p99.9", "max"]
    ttft = _line(text, "TTFT").split()
    assert ttft[1] == "2"  # count: an int, no decimals
    assert float(ttft[2]) == 175.0  # mean of 100 and 250
    assert ttft[-1] == "250.00"  # max
    e2e = _line(text, "E2E").split()
    assert e2e[-1] == "1600"  # >= 1000 ms: no decimals
    assert _line(text, "ITL").split()[1] == "6"
    assert _line(text, "TPOT").split()[1] == "2"
    assert _line(text, "chunk gap").split()[2] == "6"
    out_tps = s["throughput"]["output_tps"]
    assert out_tps == 0.8  # 8 tokens inside a 10 s window; warm-up tokens are outside it
    assert _line(text, "throughput:") == (
        "throughput: output 0.8 tok/s, total 20.8 tok/s, 0.20 req/s")  # + 200 input tokens / 10 s
    assert _line(text, "requests:") == (
        "requests: sent 5, ok 2, failed 3, interrupted at stop 0, warm-up excluded 1")
    assert _line(text, "errors:") == "errors: http_500 2, timeout_idle 1"
    assert lines[-1] == "results: results/demo-7"
    assert "warning" not in text and "note:" not in text


def test_short_outputs_warning():
    s = _summary([record(3000, [10, 20, 30], 3, requested=128),
                  record(3000, [10, 20], 2, requested=128),
                  record(3000, [10, 20], 128, requested=128)])
    text = format_summary(s)
    warning = _line(text, "warning:")
    assert warning.startswith("warning: 2 responses were shorter than the requested output")
    assert "engine profile" in warning


def test_prompt_mismatch_note():
    s = _summary([record(3000, [10, 20], 2, input_tokens=140, expected_input=128),
                  record(3000, [10, 20], 2, input_tokens=128, expected_input=128)])
    note = _line(format_summary(s), "note:")
    assert "in 1 requests" in note and "mean |diff| 12.0 tokens" in note


def test_empty_run_shows_dashes_and_no_optional_lines():
    s = _summary([])
    text = format_summary(s)
    ttft = _line(text, "TTFT").split()
    assert ttft[1] == "0"
    assert ttft[2:] == ["-"] * 7
    for absent in ("errors:", "warning:", "note:", "results:"):
        assert not any(ln.startswith(absent) for ln in text.splitlines())
    assert _line(text, "throughput:") == "throughput: output 0.0 tok/s, total 0.0 tok/s, 0.00 req/s"
