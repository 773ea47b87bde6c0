"""SLO parsing, verdicts and the per-request goodput test (tokenswarm.slo)."""

from __future__ import annotations

import pytest

from tokenswarm.errors import UserError
from tokenswarm.slo import DEFAULT_SLO, SloConfig, is_good, parse_cli


def _stage(p99_ttft, p99_itl, ok=10, failed=0):
    return {"metrics": {"ttft_ms": {"p99": p99_ttft}, "itl_ms": {"p99": p99_itl}},
            "requests": {"ok": ok, "failed": failed}}


def test_defaults_are_p99_ttft_and_itl_below_100_ms_and_one_percent_errors():
    slo = SloConfig.from_mapping(None)
    assert slo.to_mapping() == DEFAULT_SLO
    assert slo.evaluate(_stage(99.9, 20))["pass"] is True
    verdict = slo.evaluate(_stage(100.0, 20))  # "below 100": 100 itself fails
    assert verdict["pass"] is False
    assert [(c["key"], c["pass"]) for c in verdict["checks"]] == [
        ("ttft_p99_ms", False), ("itl_p99_ms", True), ("error_pct", True)]


def test_error_budget_and_missing_values_fail():
    slo = SloConfig.from_mapping(None)
    assert slo.evaluate(_stage(50, 20, ok=99, failed=1))["pass"] is True  # 1 % is allowed
    assert slo.evaluate(_stage(50, 20, ok=98, failed=2))["pass"] is False
    assert slo.evaluate(_stage(None, None, ok=0, failed=0))["pass"] is False


def test_overrides_and_off():
    slo = SloConfig.from_mapping({"ttft_p99_ms": 500, "itl_p99_ms": "off", "tpot_p90_ms": "40"})
    assert slo.stage_keys() == ["ttft_p99_ms", "error_pct", "tpot_p90_ms"]
    assert slo.values["tpot_p90_ms"] == 40.0


@pytest.mark.parametrize(("mapping", "message"), [
    ({"ttft_p99": 1}, "slo: unknown key 'ttft_p99' (did you mean 'ttft_p99_ms'?)"),
    ({"ttft_p98_ms": 1}, "slo: unknown key 'ttft_p98_ms'"),
    ({"ttft_p99_ms": "fast"}, "slo.ttft_p99_ms: 'fast' is not a number"),
    ({"error_pct": -1}, "slo.error_pct: -1 is not a number >= 0"),
])
def test_bad_slo_config_is_one_line_error(mapping, message):
    with pytest.raises(UserError) as info:
        SloConfig.from_mapping(mapping)
    assert str(info.value).startswith(message)


def test_goodput_uses_per_request_limits_only():
    slo = SloConfig.from_mapping({"ttft_p99_ms": 100, "ttft_p50_ms": 50, "itl_p99_ms": 5,
                                  "e2e_max_ms": 1000})
    limits = slo.per_request_limits()
    assert limits == {"ttft_ms": 50, "e2e_ms": 1000}  # tightest; ITL is not per request
    assert is_good({"status": "ok", "ttft_ms": 49.0, "e2e_ms": 900.0}, limits)
    assert not is_good({"status": "ok", "ttft_ms": 51.0, "e2e_ms": 900.0}, limits)
    assert not is_good({"status": "error", "ttft_ms": None}, limits)


def test_cli_items():
    assert parse_cli(["ttft_p99_ms=200", "error_pct=off"]) == {
        "ttft_p99_ms": "200", "error_pct": "off"}
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        parse_cli(["ttft_p99_ms"])
