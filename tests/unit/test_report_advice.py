"""Each tuning rule fires on data crafted to show its symptom, cites the numbers, and stays
silent on a healthy run."""

from __future__ import annotations

import pytest
from report_data import build_run, sweep

from tokenswarm.report.advice import advise
from tokenswarm.report.analysis import all_stages
from tokenswarm.report.load import load_run
from tokenswarm.report.slo import targets

LEVELS = {1: 400.0, 2: 800.0, 4: 1600.0, 8: 3000.0}


def _advice(tmp_path, stages, **kw):
    run = load_run(build_run(tmp_path, "r", stages, **kw))
    return advise(all_stages([run], targets([])), [run], 85.0)


def test_a_healthy_run_gets_no_advice(tmp_path):
    assert _advice(tmp_path, sweep("medium", LEVELS, ttft_p99=40.0, itl_p99=12.0)) == []


def test_queueing_when_ttft_grows_much_faster_than_itl(tmp_path):
    ttft = {1: 40.0, 2: 60.0, 4: 150.0, 8: 400.0}
    found = _advice(
        tmp_path, sweep("medium", LEVELS, ttft_p99=ttft.get, itl_p99=lambda u: 10 + u / 4)
    )
    assert [a.rule for a in found] == ["queueing"]
    assert "10.0x (40.0 ms at 1 users -> 400.0 ms at 8)" in found[0].finding
    assert "ITL p99 grew 1.2x (10.2 -> 12.0 ms)" in found[0].finding
    assert "--max-num-batched-tokens" in found[0].suggestion


def test_bandwidth_when_itl_is_linear_in_batch_and_throughput_flattens(tmp_path):
    levels = {4: 1000.0, 8: 1500.0, 16: 1700.0, 32: 1750.0}
    found = _advice(
        tmp_path, sweep("medium", levels, itl_p50=lambda u: 6 + u / 2, itl_p99=lambda u: 8 + u / 2)
    )
    assert [a.rule for a in found] == ["bandwidth"]
    assert "8.0 ms at 4 users -> 22.0 ms at 32" in found[0].finding
    assert "1700 -> 1750 (16 -> 32 users, +3 %)" in found[0].finding
    assert "tensor" in found[0].suggestion and "quantise" in found[0].suggestion


def test_bandwidth_is_silent_while_throughput_still_scales(tmp_path):
    found = _advice(
        tmp_path, sweep("medium", LEVELS, itl_p50=lambda u: 6 + u / 2, itl_p99=lambda u: 8 + u / 2)
    )
    assert found == []


def test_http_429_errors(tmp_path):
    stages = sweep("medium", LEVELS, errors=lambda u: {"http_429": 7} if u >= 4 else {})
    found = _advice(tmp_path, stages)
    assert [a.rule for a in found] == ["http_429"]
    assert found[0].finding == (
        "14 of 414 requests failed with HTTP 429, from 4 users on (4 users: 7, 8 users: 7)"
    )
    assert "--max-num-seqs" in found[0].suggestion


def test_gpu_idle_at_peak(tmp_path):
    found = _advice(tmp_path, sweep("medium", LEVELS, util_pct=lambda u: 60.0 + u))
    assert [a.rule for a in found] == ["gpu_idle"]
    assert (
        found[0].finding == "GPU utilisation 68.0 % (< 85 %) at the peak 3000 output tok/s "
        "(8 users)"
    )


def test_client_cpu_saturated(tmp_path):
    found = _advice(tmp_path, sweep("medium", LEVELS, saturated=lambda u: u == 8))
    assert [a.rule for a in found] == ["client_cpu"]
    assert found[0].finding == (
        "the load generator was saturated in 1 stage(s): medium@8 (CPU max 97 %, "
        "event-loop lag p99 12.30 ms)"
    )
    assert "--workers" in found[0].suggestion


@pytest.mark.parametrize("gpu_block", [True, False])
def test_kv_cache_full_from_engine_telemetry(tmp_path, gpu_block):
    found = _advice(
        tmp_path, sweep("medium", LEVELS, kv_pct=lambda u: 12.0 * u), gpu_block=gpu_block
    )
    assert [a.rule for a in found] == ["kv_cache"]
    assert found[0].finding == "KV cache 96 % full at 8 users (medium@8), up to 2 requests waiting"
    assert "--gpu-memory-utilization" in found[0].suggestion
