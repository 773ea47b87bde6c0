"""The report's detail sections: the stage table, runs side by side, the curves vs
concurrency, energy and cost per stage, and each run's distributions and time series."""

from __future__ import annotations

import pandas as pd

from tokenswarm.report import plots
from tokenswarm.report.load import Run
from tokenswarm.report.model import Cell, Figure, Section, Table

LATENCY_COLUMNS = [
    (m, s) for m in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms") for s in ("p50", "p90", "p99")
]


def stage_table(stages: pd.DataFrame) -> Section:
    columns = [
        "run",
        "stage",
        "scenario",
        "users",
        "ok",
        "failed",
        "error %",
        "output tok/s",
        "total tok/s",
        "req/s",
        "goodput req/s",
    ]
    columns += [f"{m.split('_')[0].upper()} {s}" for m, s in LATENCY_COLUMNS]
    table = Table("stages", [*columns, "SLO (report)", "SLO (sweep)"])
    errors = Table("errors", ["run", "stage", "error class", "count"])
    for _, r in stages.iterrows():
        table.add(
            r["run"],
            r["name"],
            r["scenario"],
            r["users"],
            r["ok"],
            r["failed"],
            r["error_pct"],
            r["output_tps"],
            r["total_tps"],
            r["rps"],
            Cell.of(r["goodput_rps"]),
            *(Cell.of(r[f"{m}_{s}"]) for m, s in LATENCY_COLUMNS),
            "pass" if r["slo_pass"] else "fail",
            Cell.of(
                None
                if pd.isna(r["sweep_slo_pass"])
                else ("pass" if r["sweep_slo_pass"] else "fail")
            ),
        )
        for name, count in sorted(r["errors"].items()):
            errors.add(r["run"], r["name"], name, count)
    notes = ["One row per stage (steady-state window, warm-up excluded); latencies in ms."]
    cut = stages[~stages["complete"].astype(bool)]
    if not cut.empty:
        notes.append(
            "Cut short (stopped early or workers lost): "
            + ", ".join(f"{r['run']} {r['name']}" for _, r in cut.iterrows())
            + "."
        )
    return Section("stages", "Stages", notes, tables=[table] + ([errors] if errors.rows else []))


def comparison(stages: pd.DataFrame) -> Section:
    runs = list(dict.fromkeys(stages["run"]))
    metrics = (
        ("output_tps", "output tok/s"),
        ("ttft_ms_p99", "TTFT p99"),
        ("itl_ms_p99", "ITL p99"),
    )
    table = Table(
        "comparison",
        ["scenario", "users"] + [f"{title} {run}" for _, title in metrics for run in runs],
    )
    keyed: dict[tuple[object, ...], pd.Series] = {}
    for _, row in stages.iterrows():
        keyed.setdefault((row["scenario"], row["users"], row["run"]), row)
    for scenario, users in dict.fromkeys(zip(stages["scenario"], stages["users"], strict=True)):
        found = [keyed.get((scenario, users, run)) for run in runs]
        cells = [
            Cell.of(None if row is None else row[column]) for column, _ in metrics for row in found
        ]
        table.add(scenario, users, *cells)
    return Section(
        "comparison",
        "Runs side by side",
        ["Same scenario and concurrency, one column per run."],
        tables=[table],
    )


def curves(stages: pd.DataFrame) -> Section:
    figures = [
        Figure(
            "fig-throughput",
            "Throughput vs concurrency (one line per run and scenario; ring: saturation point)",
            plots.throughput_vs_concurrency(stages),
        )
    ]
    for scenario, df in stages.groupby("scenario", sort=False):
        figures.append(
            Figure(
                f"fig-latency-{scenario}",
                f"Latency vs concurrency, scenario {scenario}: p50 dotted, p90 dashed, p99 solid",
                plots.latency_vs_concurrency(df),
            )
        )
    return Section("curves", "Throughput and latency vs concurrency", figures=figures)


def efficiency(runs: list[Run], stages: pd.DataFrame) -> Section:
    table = Table(
        "efficiency",
        [
            "run",
            "stage",
            "GPU util %",
            "power W",
            "energy J",
            "tokens/J",
            "tokens/$",
            "VRAM used %",
            "temp max °C",
        ],
    )
    for _, r in stages.iterrows():
        table.add(
            r["run"],
            r["name"],
            Cell.of(r["gpu_util_pct"], "no telemetry"),
            Cell.of(r["gpu_power_w"], "no power data"),
            Cell.of(r["gpu_energy_j"], "no power data"),
            Cell.of(r["gpu_tokens_per_joule"], "no power data"),
            Cell.of(r["tokens_per_dollar"], "no price per hour"),
            Cell.of(r["gpu_vram_used_pct"]),
            Cell.of(r["gpu_temp_max_c"]),
        )
    figures, notes = [], []
    for run in runs:
        svg = plots.efficiency(run)
        if svg is None:
            notes.append(f"{run.run_id}: no power data, no telemetry and no price per hour.")
        else:
            figures.append(
                Figure(
                    f"fig-efficiency-{run.run_id}",
                    f"{run.run_id}: tokens/J, tokens/$ and GPU util per stage",
                    svg,
                )
            )
    return Section(
        "efficiency",
        "Energy, cost and GPU utilisation per stage",
        [
            "energy = trapezoid integral of the power summed over the run's GPUs over the stage "
            "window; tokens/J = output tokens in the window / energy; tokens/$ = output tok/s x "
            "3600 / price per hour.",
            *notes,
        ],
        tables=[table],
        figures=figures,
    )


def run_detail(run: Run) -> Section:
    section = Section(f"run-{run.run_id}", f"Run {run.run_id}: distributions and time series")
    cdf, series = plots.latency_cdf(run), plots.timeseries(run)
    no_gpu = run.telemetry is None or run.telemetry.gpu.empty
    if cdf is not None:
        section.figures.append(
            Figure(
                f"fig-cdf-{run.run_id}",
                "Latency CDF per stage (successful requests, warm-up excluded)",
                cdf,
            )
        )
    if series is not None:
        section.figures.append(
            Figure(
                f"fig-timeseries-{run.run_id}",
                "Output tok/s over the run (shaded: stage measurement windows)"
                + ("" if no_gpu else " and GPU telemetry on the same time axis"),
                series,
            )
        )
    if run.requests is None:
        section.paragraphs.append("No requests.csv: no distributions or time series.")
    if no_gpu:
        section.paragraphs.append(
            "No GPU samples (telemetry.jsonl or InfluxDB): no GPU time series (no telemetry)."
        )
    return section
