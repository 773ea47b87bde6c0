"""SLO parsing, verdicts and the per-request goodput test (tokenswarm.slo)."""

from __future__ import annotations

import pytest

from tokenswarm.errors import UserError
from tokenswarm.slo import DEFAULT_SLO, SloConfig, is_good, parse_cli_targets


def _stage(p99_ttft, p99_itl, ok=10, failed=0):
    return {"metrics": {"ttft_ms": {"p99": p99_ttft}, "itl_ms": {"p99": p99_itl}},
            "requests": {"ok": ok, "failed": failed}}


def test_defaults_are_p99_ttft_and_itl_under_100_ms_and_one_percent_errors():
    slo = SloConfig.from_mapping(None)
    assert slo.to_mapping() == DEFAULT_SLO
    assert slo.evaluate(_stage(99.9, 20))["pass"] is True
    verdict = slo.evaluate(_stage(100.1, 20))
    assert verdict["pass"] is False
    assert [(c["name"], c["pass"]) for c in verdict["checks"]] == [
        ("ttft_ms p99", False), ("itl_ms p99", True), ("error_rate", True)]


def test_error_budget_and_missing_values_fail():
    slo = SloConfig.from_mapping(None)
    assert slo.evaluate(_stage(50, 20, ok=98, failed=2))["pass"] is False
    assert slo.evaluate(_stage(None, None, ok=0, failed=0))["pass"] is False


@pytest.mark.parametrize(("mapping", "message"), [
    ({"ttft": {"p99": 1}}, "slo: unknown key 'ttft' (did you mean 'ttft_ms'?)"),
    ({"ttft_ms": {"p98": 1}}, "slo.ttft_ms: unknown key 'p98'"),
    ({"ttft_ms": {"p99": "fast"}}, "slo.ttft_ms.p99: 'fast' is not a number"),
    ({"ttft_ms": 100}, "slo.ttft_ms must map a statistic to a limit"),
])
def test_bad_slo_config_is_one_line_error(mapping, message):
    with pytest.raises(UserError, match="^" + message.replace("(", r"\(").replace(")", r"\)")
                       .replace("?", r"\?")):
        SloConfig.from_mapping(mapping)


def test_goodput_uses_per_request_limits_only():
    slo = SloConfig.from_mapping({"ttft_ms": {"p99": 100, "p50": 50}, "itl_ms": {"p99": 5},
                                  "e2e_ms": {"max": 1000}})
    limits = slo.per_request_limits()
    assert limits == {"ttft_ms": 50, "e2e_ms": 1000}  # tightest; ITL is not per request
    assert is_good({"status": "ok", "ttft_ms": 49.0, "e2e_ms": 900.0}, limits)
    assert not is_good({"status": "ok", "ttft_ms": 51.0, "e2e_ms": 900.0}, limits)
    assert not is_good({"status": "error", "ttft_ms": None}, limits)


def test_cli_targets():
    assert parse_cli_targets(["ttft_ms:p99=200", "error_rate=0.05"]) == {
        "ttft_ms": {"p99": "200"}, "error_rate": "0.05"}
    with pytest.raises(UserError, match="expected METRIC:STAT=LIMIT"):
        parse_cli_targets(["ttft_ms:p99"])
