"""The SLO verdict table: one row per (run, scenario, target).

Where each target is read (stated in the table's "where" column):

- ``output_tps_per_accelerator``: peak output_tps / accelerators; a second row reads the
  saturation point (highest concurrency meeting the per-stage SLOs) the same way;
- latency targets and ``error_pct``: at the peak-throughput stage;
- ``gpu_util_pct``: the peak stage's mean GPU utilisation (needs telemetry);
- ``scaling_efficiency_pct``: peak vs peak against a 1-accelerator run (``analysis.scaling``).

A target that cannot be evaluated gets status "n/a" and says why ("no telemetry", "needs a
1-accelerator run"); it never fails the report.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tokenswarm.report.analysis import groups, number
from tokenswarm.report.slo import holds, stage_value
from tokenswarm.slo import SloConfig


def _row(
    run: str, scenario: str, key: str, where: str, value: Any, target: float, note: str = ""
) -> dict[str, Any]:
    value = number(value)
    status = "n/a" if value is None else ("pass" if holds(key, value, target) else "fail")
    return {
        "run": run,
        "scenario": scenario,
        "key": key,
        "where": where,
        "value": value,
        "target": target,
        "status": status,
        "note": note if value is None else "",
    }


def verdicts(
    stages: pd.DataFrame, sat: pd.DataFrame, scale: pd.DataFrame, targets: SloConfig
) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for (run, scenario), df in groups(stages):
        peak = df.loc[df["output_tps"].idxmax()]
        acc = int(peak["accelerators"])
        s = sat[(sat["run"] == run) & (sat["scenario"] == scenario)].iloc[0]
        at_peak = f"peak ({peak['name']})"
        tps_target = targets.values.get("output_tps_per_accelerator")
        if tps_target is not None:
            rows.append(
                _row(
                    run,
                    scenario,
                    "output_tps_per_accelerator",
                    at_peak,
                    peak["output_tps"] / acc,
                    tps_target,
                )
            )
            sat_tps = number(s["sat_output_tps"])
            rows.append(
                _row(
                    run,
                    scenario,
                    "output_tps_per_accelerator",
                    f"saturation ({s['sat_stage']})" if sat_tps is not None else "saturation",
                    None if sat_tps is None else sat_tps / acc,
                    tps_target,
                    "no stage meets the per-stage SLOs",
                )
            )
        for key in targets.stage_keys():
            rows.append(
                _row(
                    run,
                    scenario,
                    key,
                    at_peak,
                    stage_value(peak, key),
                    targets.values[key],
                    "not measured",
                )
            )
        if targets.values.get("gpu_util_pct") is not None:
            rows.append(
                _row(
                    run,
                    scenario,
                    "gpu_util_pct",
                    at_peak,
                    peak["gpu_util_pct"],
                    targets.values["gpu_util_pct"],
                    "no telemetry",
                )
            )
        if targets.values.get("scaling_efficiency_pct") is not None:
            rows.append(_scaling_row(run, scenario, acc, scale, targets))
    return pd.DataFrame(rows)


def _scaling_row(
    run: str, scenario: str, acc: int, scale: pd.DataFrame, targets: SloConfig
) -> dict[str, Any]:
    target = targets.values["scaling_efficiency_pct"]
    key = "scaling_efficiency_pct"
    if acc == 1:
        return _row(
            run,
            scenario,
            key,
            "-",
            None,
            target,
            "1-accelerator run (the baseline of N-accelerator runs)",
        )
    mine = (
        scale[(scale["run"] == run) & (scale["scenario"] == scenario) & (scale["method"] == "peak")]
        if not scale.empty
        else scale
    )
    if mine.empty:
        return _row(run, scenario, key, "-", None, target, "needs a 1-accelerator run")
    best = mine.iloc[0]
    return _row(
        run,
        scenario,
        key,
        f"peak vs peak of {best['baseline']} ({acc} accelerators)",
        best["efficiency_pct"],
        target,
    )
