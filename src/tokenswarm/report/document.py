"""The report's content: runs -> :class:`~.model.Report` (analysis tables, verdicts, advice,
figures), in the order a reader wants it: verdicts and saturation first, details after."""

from __future__ import annotations

import pandas as pd

from tokenswarm.report import details
from tokenswarm.report.advice import advise
from tokenswarm.report.analysis import all_stages, saturation, scaling
from tokenswarm.report.load import Run
from tokenswarm.report.model import Cell, Report, Section, Table
from tokenswarm.report.slo import label, op
from tokenswarm.report.verdicts import verdicts
from tokenswarm.slo import SloConfig

ROUNDING = (
    "Numbers are rounded to 2 decimals; in the HTML each number cell holds the exact "
    "summary.json value in its data-value attribute."
)
EFFICIENCY_FORMULA = (
    "Scaling efficiency = output tok/s of the N-accelerator run / (N x output tok/s of the "
    "1-accelerator run) x 100, for the same scenario (name, input and output tokens). 'peak' "
    "compares the two runs' peak output tok/s (this is what the SLO verdict reads); 'matched' "
    "compares the N-accelerator stage at N x c users with the 1-accelerator stage at c users "
    "(equal load per accelerator), for every c both runs measured."
)


def build(runs: list[Run], targets: SloConfig) -> Report:
    stages = all_stages(runs, targets)
    sat = saturation(stages)
    scale = scaling(stages)
    report = Report("tokenswarm report: " + ", ".join(r.run_id for r in runs))
    report.sections += [
        _runs(runs),
        _verdicts(verdicts(stages, sat, scale, targets), targets),
        _saturation(sat),
        _advice(stages, runs, targets),
        details.stage_table(stages),
    ]
    if len(runs) > 1:
        report.sections.append(details.comparison(stages))
    report.sections += [details.curves(stages), details.efficiency(runs, stages), _scaling(scale)]
    report.sections += [details.run_detail(run) for run in runs]
    return report


def _runs(runs: list[Run]) -> Section:
    table = Table(
        "runs",
        [
            "run",
            "kind",
            "started",
            "accelerators",
            "stages",
            "model",
            "engine version",
            "price per hour",
            "path",
        ],
    )
    for run in runs:
        engine = (run.summary.get("environment") or {}).get("engine") or {}
        table.add(
            run.run_id,
            run.summary.get("kind", "run"),
            run.summary["started_at"],
            run.accelerators,
            len(run.stages),
            engine.get("model", "-"),
            engine.get("version") or "-",
            Cell.of(run.summary.get("price_per_hour")),
            str(run.path),
        )
    return Section("runs", "Runs", [ROUNDING], tables=[table])


def _verdicts(rows: pd.DataFrame, targets: SloConfig) -> Section:
    table = Table("verdicts", ["run", "scenario", "check", "where", "value", "target", "verdict"])
    for r in rows.itertuples():
        table.add(
            r.run,
            r.scenario,
            label(r.key),
            r.where,
            Cell.of(r.value, r.note),
            Cell(f"{op(r.key)} {r.target:g}", r.target),
            r.status,
        )
    text = ", ".join(f"{label(k)} {op(k)} {v:g}" for k, v in targets.values.items())
    return Section(
        "verdicts",
        "SLO verdicts",
        [
            f"Targets: {text} (change with --slo KEY=VALUE, drop with KEY=off). 'n/a' means the "
            "run lacks the data for that check; it does not fail the report."
        ],
        tables=[table],
    )


def _saturation(sat: pd.DataFrame) -> Section:
    table = Table(
        "saturation",
        [
            "run",
            "scenario",
            "levels (users)",
            "saturation users",
            "output tok/s there",
            "peak users",
            "peak output tok/s",
        ],
    )
    for r in sat.itertuples():
        table.add(
            r.run,
            r.scenario,
            r.levels,
            Cell.of(r.sat_users, "none"),
            Cell.of(r.sat_output_tps, "none"),
            r.peak_users,
            r.peak_output_tps,
        )
    return Section(
        "saturation",
        "Saturation point",
        [
            "Saturation point: the highest concurrency whose stage passes every per-stage SLO "
            "check (latency targets and error rate), and its output throughput."
        ],
        tables=[table],
    )


def _advice(stages: pd.DataFrame, runs: list[Run], targets: SloConfig) -> Section:
    found = advise(stages, runs, targets.values.get("gpu_util_pct"))
    items = [f"[{a.rule}] {a.run} / {a.scenario}: {a.finding}. Try: {a.suggestion}." for a in found]
    return Section(
        "advice",
        "Tuning advice",
        [] if items else ["No rule triggered on these results."],
        items=items,
    )


def _scaling(scale: pd.DataFrame) -> Section:
    section = Section("scaling", "Scaling efficiency", [EFFICIENCY_FORMULA])
    if scale.empty:
        section.paragraphs.append(
            "No comparison: needs a 1-accelerator run and an "
            "N-accelerator run of the same scenario."
        )
        return section
    table = Table(
        "scaling",
        [
            "run",
            "scenario",
            "accelerators",
            "baseline (1 accelerator)",
            "method",
            "users (N)",
            "output tok/s (N)",
            "users (1)",
            "output tok/s (1)",
            "efficiency %",
        ],
    )
    for r in scale.itertuples():
        table.add(
            r.run,
            r.scenario,
            r.accelerators,
            r.baseline,
            r.method,
            r.users_n,
            r.tps_n,
            r.users_1,
            r.tps_1,
            Cell.of(r.efficiency_pct),
        )
    section.tables.append(table)
    return section
