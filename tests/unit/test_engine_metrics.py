"""vLLM and SGLang Prometheus text -> EngineSample (pure parser)."""

from __future__ import annotations

import pytest

from tokenswarm.errors import UserError
from tokenswarm.sim.metrics import SimStats, prometheus_text
from tokenswarm.telemetry.sources.engine import metrics_url, parse_metrics

VLLM_OLD = """\
# HELP vllm:num_requests_running Number of requests currently running on GPU.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="a"} 3.0
vllm:num_requests_running{model_name="b"} 2.0
vllm:num_requests_waiting{model_name="a"} 1.0
vllm:gpu_cache_usage_perc{model_name="a"} 0.25
vllm:prompt_tokens_total{model_name="a"} 1234.0
vllm:prompt_tokens_created{model_name="a"} 1.7e9
vllm:generation_tokens_total{model_name="a"} 567.0
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="a"} 4.0
"""

SGLANG = """\
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{model_name="q",engine_type="unified",tp_rank="0"} 7.0
sglang:num_running_reqs{model_name="q",engine_type="unified",tp_rank="1"} 1.0
sglang:num_queue_reqs{model_name="q"} 0.0
sglang:token_usage{model_name="q"} 0.5
sglang:prompt_tokens_total{model_name="q"} 10.0
sglang:generation_tokens_total{model_name="q"} 20.0
"""


def test_vllm_sums_label_sets_and_turns_fraction_into_percent():
    sample = parse_metrics(VLLM_OLD)
    assert sample is not None
    assert sample.engine == "vllm"
    assert sample.fields == {
        "requests_running": 5,
        "requests_waiting": 1,
        "kv_cache_usage_pct": 25.0,
        "prompt_tokens_total": 1234,
        "generation_tokens_total": 567,
    }


def test_newer_vllm_kv_cache_name_wins():
    text = VLLM_OLD + 'vllm:kv_cache_usage_perc{model_name="a",engine="0"} 0.5\n'
    sample = parse_metrics(text)
    assert sample is not None
    assert sample.fields["kv_cache_usage_pct"] == 50.0


def test_sglang_names():
    sample = parse_metrics(SGLANG)
    assert sample is not None
    assert sample.engine == "sglang"
    assert sample.fields == {
        "requests_running": 7,  # tp_rank 0 and 1 are one engine: not 7 + 1
        "requests_waiting": 0,
        "kv_cache_usage_pct": 50.0,
        "prompt_tokens_total": 10,
        "generation_tokens_total": 20,
    }


def test_simulator_metrics_read_like_vllm():
    snap = {"running": 2, "waiting": 3, "kv_cache_usage": 0.125, "prompt_tokens": 40,
            "generation_tokens": 9, "requests_total": 5, "cpu_seconds": 0.1}
    sample = parse_metrics(prometheus_text(SimStats(), snap, "m").decode())
    assert sample is not None
    assert sample.fields == {"requests_running": 2, "requests_waiting": 3,
                             "kv_cache_usage_pct": 12.5, "prompt_tokens_total": 40,
                             "generation_tokens_total": 9}


@pytest.mark.parametrize("text", ["", "# only comments\n", "garbage line\nfoo{x} notanumber\n",
                                  'process_cpu_seconds_total 1.0\n'])
def test_no_engine_metrics_is_none(text: str):
    assert parse_metrics(text) is None


def test_garbage_lines_are_skipped():
    sample = parse_metrics("}{ broken\nvllm:num_requests_running NaN\n"
                           "vllm:num_requests_waiting 2 1700000000000\n")
    assert sample is not None
    assert sample.fields == {"requests_waiting": 2}


def test_metrics_url():
    assert metrics_url("http://h:8000") == "http://h:8000/metrics"
    assert metrics_url("http://h:8000/") == "http://h:8000/metrics"
    assert metrics_url("http://h:9000/custom") == "http://h:9000/custom"
    with pytest.raises(UserError, match="invalid engine URL"):
        metrics_url("h:8000")


def test_tp_ranks_of_one_engine_are_not_double_counted():
    text = "".join(
        f'sglang:{name}{{model_name="q",tp_rank="{rank}"}} {value}\n'
        for rank in range(4)
        for name, value in (("num_running_reqs", 5), ("num_queue_reqs", 2), ("token_usage", 0.4),
                            ("prompt_tokens_total", 100), ("generation_tokens_total", 30)))
    sample = parse_metrics(text)
    assert sample is not None
    assert sample.fields == {"requests_running": 5, "requests_waiting": 2,
                             "kv_cache_usage_pct": 40.0, "prompt_tokens_total": 100,
                             "generation_tokens_total": 30}


def test_distinct_engines_sum_counts_and_take_the_fullest_kv_cache():
    # two data-parallel engines (vLLM's engine label), each with its own scheduler
    text = """vllm:num_requests_running{engine="0",model_name="m"} 3
vllm:num_requests_running{engine="1",model_name="m"} 4
vllm:num_requests_waiting{engine="0",model_name="m"} 0
vllm:num_requests_waiting{engine="1",model_name="m"} 6
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.2
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.9
vllm:prompt_tokens_total{engine="0",model_name="m"} 100
vllm:prompt_tokens_total{engine="1",model_name="m"} 50
"""
    sample = parse_metrics(text)
    assert sample is not None
    assert sample.fields == {"requests_running": 7, "requests_waiting": 6,
                             "kv_cache_usage_pct": 90.0, "prompt_tokens_total": 150}


def test_sglang_dp_ranks_with_tp_copies():
    # 2 dp ranks x 2 tp ranks: sum over dp, one copy per tp group
    text = "".join(
        f'sglang:num_running_reqs{{dp_rank="{dp}",tp_rank="{tp}"}} {3 + dp}\n'
        f'sglang:token_usage{{dp_rank="{dp}",tp_rank="{tp}"}} {0.1 + 0.5 * dp}\n'
        for dp in range(2) for tp in range(2))
    sample = parse_metrics(text)
    assert sample is not None
    assert sample.fields == {"requests_running": 7, "kv_cache_usage_pct": 60.0}


def test_label_values_may_hold_braces_and_quotes():
    sample = parse_metrics('vllm:num_requests_running{model_name="a}b\\"c"} 2\n')
    assert sample is not None and sample.fields == {"requests_running": 2}
