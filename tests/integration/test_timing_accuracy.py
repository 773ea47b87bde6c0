"""Timing accuracy against the simulator's known schedule (real processes, real sockets)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

TTFT_MS, ITL_MS = 80.0, 20.0
LOAD = ("-u", "64", "-r", "64", "-t", "8s", "--warmup", "2", "--stop-timeout", "10",
        "--input-tokens", "32", "--output-tokens", "33")


def test_ttft_and_itl_match_the_schedule_at_64_users(sim_factory, run_locust):
    sim = sim_factory("--preset", "fixed")
    run = run_locust(sim.url, *LOAD)
    assert run.proc.returncode == 0, run.output[-3000:]
    summary = run.summary()
    metrics = summary["metrics"]
    assert metrics["ttft_ms"]["count"] > 300
    assert abs(metrics["ttft_ms"]["p50"] - TTFT_MS) <= 2.0, metrics["ttft_ms"]
    assert abs(metrics["itl_ms"]["p50"] - ITL_MS) <= 1.0, metrics["itl_ms"]
    # one token per chunk: per-token ITL and raw chunk gaps are the same samples
    assert metrics["chunk_gap_ms"]["count"] == metrics["itl_ms"]["count"]
    assert summary["tokens"]["short_outputs"] == 0
    assert summary["requests"]["failed"] == 0


@pytest.mark.parametrize("engine", ["vllm", "openai"])
def test_itl_is_per_token_when_chunks_carry_four_tokens(sim_factory, run_locust, engine):
    """vllm: tokens per chunk from continuous usage; openai: spread from the final usage."""
    sim = sim_factory("--preset", "fixed", "--tokens-per-chunk", "4")
    run = run_locust(sim.url, *LOAD, "--engine", engine)
    assert run.proc.returncode == 0, run.output[-3000:]
    summary = run.summary()
    metrics = summary["metrics"]
    assert abs(metrics["itl_ms"]["p50"] - ITL_MS) <= 1.0, metrics["itl_ms"]
    assert abs(metrics["chunk_gap_ms"]["p50"] - 4 * ITL_MS) <= 2.0, metrics["chunk_gap_ms"]
    if engine == "vllm":
        # length forced: 33 tokens = 1 + 8 chunks of 4, one ITL sample per token after the first
        assert summary["tokens"]["short_outputs"] == 0
        assert metrics["itl_ms"]["count"] == 4 * metrics["chunk_gap_ms"]["count"]
    else:
        # plain OpenAI has no ignore_eos: the simulator stops early and the summary says so
        assert summary["tokens"]["short_outputs"] > 0
