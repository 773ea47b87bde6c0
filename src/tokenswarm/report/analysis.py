"""The report's analysis over the stage rows of one or more runs (pandas).

- Saturation point of a (run, scenario): the highest concurrency (users) whose stage passes
  every per-stage SLO check (``slo.stage_passes``), and its output throughput.
- Peak: the stage with the highest output_tps of a (run, scenario).
- Scaling efficiency of an N-accelerator run against a 1-accelerator run of the same scenario
  (same name, input and output tokens): ``eff = tps(N) / (N * tps(1)) * 100``, output tok/s,
  two ways: "peak" compares the peaks of both runs (the headline and the SLO verdict);
  "matched" compares the N-card stage at concurrency N*c with the 1-card stage at c, for
  every c both runs measured (equal per-accelerator load).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from tokenswarm.report.load import Run
from tokenswarm.slo import SloConfig

SCENARIO_KEY = ("scenario", "input_tokens", "output_tokens")


def all_stages(runs: list[Run], targets: SloConfig) -> pd.DataFrame:
    """Every stage of every run, with ``accelerators`` and ``slo_pass``: the stage's verdict
    under the report's targets (``SloConfig.evaluate`` of its summary.json block)."""
    frames = []
    for order, run in enumerate(runs):
        df = run.stages.copy()
        df["accelerators"] = run.accelerators
        df["run_order"] = order
        df["slo_pass"] = [targets.evaluate(block)["pass"] for block in run.blocks]
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def groups(stages: pd.DataFrame) -> list[tuple[tuple[Any, ...], pd.DataFrame]]:
    """(run, scenario) groups in run then first-appearance order, stages sorted by users."""
    out = []
    for key, df in stages.groupby(["run_order", "run", "scenario"], sort=False, dropna=False):
        out.append((key[1:], df.sort_values(["users", "index"], kind="stable")))
    return out


def saturation(stages: pd.DataFrame) -> pd.DataFrame:
    """Per (run, scenario): levels, saturation point and peak (see the module doc)."""
    rows = []
    for (run, scenario), df in groups(stages):
        passing = df[df["slo_pass"]]
        peak = df.loc[df["output_tps"].idxmax()]
        sat = passing.iloc[-1] if not passing.empty else None
        rows.append(
            {
                "run": run,
                "scenario": scenario,
                "levels": ", ".join(str(u) for u in df["users"]),
                "sat_users": None if sat is None else sat["users"],
                "sat_output_tps": None if sat is None else sat["output_tps"],
                "sat_stage": None if sat is None else sat["name"],
                "peak_users": peak["users"],
                "peak_output_tps": peak["output_tps"],
                "peak_stage": peak["name"],
                "accelerators": int(df["accelerators"].iloc[0]),
            }
        )
    return pd.DataFrame(rows)


def _efficiency(tps_n: float, n: int, tps_1: float) -> float | None:
    return 100.0 * tps_n / (n * tps_1) if tps_1 else None


def scaling(stages: pd.DataFrame) -> pd.DataFrame:
    """Scaling efficiency rows (see the module doc): one "peak" row per N-accelerator (run,
    scenario) with a 1-accelerator baseline, plus one "matched" row per matched level."""
    base = stages[stages["accelerators"] == 1]
    rows: list[dict[str, Any]] = []
    for (run, scenario), df in groups(stages[stages["accelerators"] > 1]):
        n = int(df["accelerators"].iloc[0])
        key = tuple(df[k].iloc[0] for k in SCENARIO_KEY)
        same = base[(base[list(SCENARIO_KEY)] == pd.Series(key, index=SCENARIO_KEY)).all(axis=1)]
        if same.empty:
            continue
        baseline_run = same.sort_values("run_order")["run"].iloc[0]
        one = same[same["run"] == baseline_run]
        peak_n, peak_1 = df.loc[df["output_tps"].idxmax()], one.loc[one["output_tps"].idxmax()]
        common = {"run": run, "scenario": scenario, "accelerators": n, "baseline": baseline_run}
        rows.append(
            {
                **common,
                "method": "peak",
                "users_n": peak_n["users"],
                "tps_n": peak_n["output_tps"],
                "users_1": peak_1["users"],
                "tps_1": peak_1["output_tps"],
                "efficiency_pct": _efficiency(peak_n["output_tps"], n, peak_1["output_tps"]),
            }
        )
        by_users = one.set_index("users")["output_tps"]
        for _, stage in df.iterrows():
            users_1 = stage["users"] / n
            if users_1 == int(users_1) and int(users_1) in by_users.index:
                tps_1 = float(by_users.loc[int(users_1)])
                rows.append(
                    {
                        **common,
                        "method": "matched",
                        "users_n": stage["users"],
                        "tps_n": stage["output_tps"],
                        "users_1": int(users_1),
                        "tps_1": tps_1,
                        "efficiency_pct": _efficiency(stage["output_tps"], n, tps_1),
                    }
                )
    return pd.DataFrame(rows)


def number(value: Any) -> float | None:
    """A cell value as float, None for missing/NaN."""
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out
