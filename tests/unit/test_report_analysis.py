"""Scaling efficiency, saturation points and SLO verdicts computed from synthetic runs."""

from __future__ import annotations

from report_checks import html_tables
from report_data import Stage, build_run, make_report, sweep

from tokenswarm.report.analysis import all_stages, saturation, scaling
from tokenswarm.report.load import load_run
from tokenswarm.report.slo import targets
from tokenswarm.report.verdicts import verdicts


def _stages(*dirs, slo=()):
    return all_stages([load_run(d) for d in dirs], targets(list(slo)))


def test_scaling_efficiency_is_exact_peak_and_matched(tmp_path):
    one = build_run(tmp_path, "one", sweep("medium", {1: 250.0, 2: 500.0, 4: 1000.0}))
    eight = build_run(tmp_path, "eight", sweep("medium", {8: 1900.0, 32: 7600.0}), accelerators=8)
    scale = scaling(_stages(one, eight))
    peak = scale[scale["method"] == "peak"].iloc[0]
    assert (peak["run"], peak["baseline"], peak["accelerators"]) == ("eight", "one", 8)
    assert peak["efficiency_pct"] == 95.0  # 7600 / (8 * 1000)
    matched = scale[scale["method"] == "matched"].set_index("users_n")
    assert matched.loc[8, "users_1"] == 1 and matched.loc[8, "efficiency_pct"] == 95.0
    assert matched.loc[32, "users_1"] == 4 and matched.loc[32, "efficiency_pct"] == 95.0
    html, md = make_report(tmp_path / "r.html", one, eight)
    row = next(
        r
        for r in html_tables(html)["verdicts"]
        if r["check"][0] == "scaling efficiency %" and r["run"][0] == "eight"
    )
    assert float(row["value"][1]) == 95.0 and row["verdict"][0] == "fail"  # 95 is not > 95
    assert "| eight | medium | 8 | one | peak | 32 | 7600.00 | 4 | 1000.00 | 95.00 |" in md


def test_scaling_needs_a_one_accelerator_run_of_the_same_scenario(tmp_path):
    one = build_run(tmp_path, "one", sweep("short", {1: 100.0}))
    eight = build_run(tmp_path, "eight", sweep("medium", {8: 800.0}), accelerators=8)
    stages = _stages(one, eight)
    scale = scaling(stages)
    assert scale.empty
    table = verdicts(stages, saturation(stages), scale, targets([]))
    row = table[(table["key"] == "scaling_efficiency_pct") & (table["run"] == "eight")].iloc[0]
    assert (row["status"], row["note"]) == ("n/a", "needs a 1-accelerator run")


def test_saturation_is_the_highest_level_meeting_every_stage_slo(tmp_path):
    ttft = {1: 40.0, 2: 50.0, 4: 95.0, 8: 99.0, 16: 180.0}
    run = build_run(
        tmp_path,
        "r",
        [
            *sweep(
                "medium", {1: 300.0, 2: 550.0, 4: 900.0, 8: 1300.0, 16: 1400.0}, ttft_p99=ttft.get
            ),
            # 16 users meet the latency SLOs but fail 5 % of requests: not a passing stage
            *sweep(
                "short",
                {4: 700.0, 8: 1200.0, 16: 1500.0},
                errors=lambda u: {"http_500": 5} if u == 16 else {},
            ),
        ],
    )
    sat = saturation(_stages(run)).set_index("scenario")
    assert sat.loc["medium", "sat_users"] == 8 and sat.loc["medium", "sat_output_tps"] == 1300.0
    assert sat.loc["medium", "peak_users"] == 16 and sat.loc["medium", "peak_output_tps"] == 1400
    assert sat.loc["short", "sat_users"] == 8 and sat.loc["short", "sat_output_tps"] == 1200.0
    relaxed = saturation(_stages(run, slo=["ttft_p99_ms=200", "error_pct=10"]))
    assert relaxed.set_index("scenario")["sat_users"].tolist() == [16, 16]
    strict = saturation(_stages(run, slo=["ttft_p99_ms=30"])).set_index("scenario")
    assert strict.loc["medium", "sat_users"] is None


def test_throughput_verdict_reads_peak_per_accelerator_and_saturation(tmp_path):
    run = build_run(
        tmp_path,
        "two",
        sweep("medium", {8: 3000.0, 16: 3700.0}, ttft_p99={8: 60.0, 16: 150.0}.get),
        accelerators=2,
    )
    stages = _stages(run)
    table = verdicts(stages, saturation(stages), scaling(stages), targets([]))
    tps = table[table["key"] == "output_tps_per_accelerator"]
    assert tps["value"].tolist() == [1850.0, 1500.0]  # 3700 / 2 at peak, 3000 / 2 at 8 users
    assert tps["status"].tolist() == ["pass", "fail"]
    assert tps["where"].tolist() == ["peak (medium@16)", "saturation (medium@8)"]


def test_stage_without_measurements_does_not_pass(tmp_path):
    stage = Stage("medium", 4, 0.0)
    run = build_run(tmp_path, "r", [stage, Stage("medium", 1, 100.0)])
    summary = (run / "summary.json").read_text().replace('"p99": 50.0', '"p99": null', 1)
    (run / "summary.json").write_text(summary)
    sat = saturation(_stages(run)).iloc[0]
    assert sat["sat_users"] == 1
