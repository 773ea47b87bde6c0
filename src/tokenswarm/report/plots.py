"""The report's figures: matplotlib (Agg) rendered to inline SVG strings.

Inline SVG keeps the HTML one self-contained file that renders offline with no JavaScript;
text is drawn as paths (``svg.fonttype = path``) so it looks the same without the fonts. Each
figure gets its own id salt so the ids of two inline SVGs never collide.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from tokenswarm.report import series
from tokenswarm.report.analysis import groups
from tokenswarm.report.load import Run

_salt = itertools.count()
THROUGHPUT = (
    ("output_tps", "output tok/s"),
    ("total_tps", "total tok/s"),
    ("rps", "requests/s"),
    ("goodput_rps", "goodput req/s"),
)
LATENCY = (("ttft_ms", "TTFT"), ("itl_ms", "ITL"), ("tpot_ms", "TPOT"), ("e2e_ms", "E2E"))
PERCENTILES = (("p50", ":"), ("p90", "--"), ("p99", "-"))
GPU_PANELS = (
    ("util_pct", "GPU util %"),
    ("power_w", "power W"),
    ("vram_used_pct", "VRAM used %"),
    ("temp_c", "temp °C"),
)


@contextmanager
def figure(rows: int, cols: int, height: float) -> Iterator[tuple[Figure, list[plt.Axes]]]:
    fig, axes = plt.subplots(rows, cols, figsize=(11, height), squeeze=False)
    try:
        yield fig, list(axes.flat)
    finally:
        plt.close(fig)


def to_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element (XML prolog and DOCTYPE dropped)."""
    fig.tight_layout()
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"ts{next(_salt)}", "svg.fonttype": "path"}):
        fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _concurrency_axis(ax: plt.Axes, users: pd.Series) -> None:
    if users.max() / max(users.min(), 1) >= 8:
        ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrency (users)")
    ax.grid(True, alpha=0.3)


def throughput_vs_concurrency(stages: pd.DataFrame) -> str:
    """Output/total tok/s, req/s and goodput vs users: one line per (run, scenario); a ring
    marks the saturation point (highest level meeting the per-stage SLOs)."""
    with figure(2, 2, 7) as (fig, axes):
        for (run, scenario), df in groups(stages):
            passing = df[df["slo_pass"]]
            for ax, (column, _) in zip(axes, THROUGHPUT, strict=True):
                if df[column].notna().any():
                    (line,) = ax.plot(
                        df["users"], df[column], marker="o", label=f"{run} {scenario}"
                    )
                    if not passing.empty:
                        ax.plot(
                            passing["users"].iloc[-1],
                            passing[column].iloc[-1],
                            "o",
                            markersize=13,
                            fillstyle="none",
                            color=line.get_color(),
                        )
        for ax, (_, title) in zip(axes, THROUGHPUT, strict=True):
            ax.set_title(title)
            _concurrency_axis(ax, stages["users"])
        axes[0].legend(fontsize=7)
        return to_svg(fig)


def latency_vs_concurrency(stages: pd.DataFrame) -> str:
    """TTFT/ITL/TPOT/E2E p50 (dotted), p90 (dashed), p99 (solid) vs users, one colour per
    (run, scenario) of ``stages``."""
    with figure(2, 2, 7) as (fig, axes):
        colours = itertools.cycle(plt.rcParams["axes.prop_cycle"].by_key()["color"])
        for ((run, scenario), df), colour in zip(groups(stages), colours, strict=False):
            for ax, (metric, _) in zip(axes, LATENCY, strict=True):
                for stat, style in PERCENTILES:
                    ax.plot(
                        df["users"],
                        df[f"{metric}_{stat}"],
                        style,
                        color=colour,
                        marker=".",
                        label=f"{run} {scenario} {stat}",
                    )
        for ax, (_, title) in zip(axes, LATENCY, strict=True):
            ax.set_title(f"{title} (ms)")
            _concurrency_axis(ax, stages["users"])
        axes[0].legend(fontsize=7, ncol=2)
        return to_svg(fig)


def latency_cdf(run: Run) -> str | None:
    """CDF of TTFT, TPOT, mean ITL and E2E per stage (requests.csv; None without rows)."""
    if run.requests is None:
        return None
    rows = series.measured(run.requests)
    if rows.empty:
        return None
    names = dict(zip(run.stages["index"], run.stages["name"], strict=True))
    with figure(2, 2, 7) as (fig, axes):
        for stage, df in rows.groupby("stage"):
            for ax, column in zip(axes, series.CDF_COLUMNS, strict=True):
                x, y = series.cdf(df[column])
                ax.plot(x, y, label=str(names.get(int(stage), stage)))
        for ax, column in zip(axes, series.CDF_COLUMNS, strict=True):
            ax.set_title(column.replace("_", " "))
            ax.set_ylabel("fraction of requests")
            ax.grid(True, alpha=0.3)
        axes[0].legend(fontsize=7, ncol=2)
        return to_svg(fig)


def _stage_spans(ax: plt.Axes, run: Run, t0: int, label: bool) -> None:
    for i, row in enumerate(run.stages.itertuples()):
        start, end = (row.start_ns - t0) / 1e9, (row.end_ns - t0) / 1e9
        ax.axvspan(start, end, color="tab:green" if i % 2 else "tab:blue", alpha=0.08)
        if label:
            ax.text(
                start,
                1.0,
                str(row.name),
                transform=ax.get_xaxis_transform(),
                fontsize=6,
                va="bottom",
                rotation=30,
            )


def timeseries(run: Run) -> str | None:
    """Output tok/s over the run with the stages' measured windows shaded, and the GPUs'
    utilisation, power, VRAM and hottest temperature on the same time axis (one line per
    GPU) when telemetry exists. x = seconds since the run started."""
    t0 = run.started_ns
    bucket_s = series.bucket_seconds((run.stages["end_ns"].max() - t0) / 1e9)
    tokens = None
    if run.requests is not None:
        tokens = series.output_tokens_per_s(run.requests, t0, bucket_s)
    gpu = run.telemetry.gpu if run.telemetry is not None else pd.DataFrame()
    temps = [c for c in gpu.columns if c.startswith("temp_") and c.endswith("_c")]
    panels = [p for p in GPU_PANELS if p[0] in gpu or (p[0] == "temp_c" and temps)]
    if (tokens is None or tokens.empty) and not panels:
        return None
    with figure(1 + len(panels), 1, 2.4 * (1 + len(panels))) as (fig, axes):
        for ax in axes[1:]:
            ax.sharex(axes[0])
        if tokens is not None and not tokens.empty:
            axes[0].plot(tokens.index, tokens.to_numpy(), drawstyle="steps-post")
        axes[0].set_ylabel("output tok/s")
        for ax, (field, title) in zip(axes[1:], panels, strict=True):
            for name, df in gpu.groupby("series"):
                values = df[temps].max(axis=1) if field == "temp_c" else df[field]
                t, v = series.thin((df["time_ns"] - t0) / 1e9, values)
                if len(v):
                    ax.plot(t, v, label=str(name), linewidth=1)
            ax.set_ylabel(title)
        for i, ax in enumerate(axes):
            _stage_spans(ax, run, t0, label=i == 0)
            ax.grid(True, alpha=0.3)
        if panels:
            axes[1].legend(fontsize=6, ncol=4)
        axes[-1].set_xlabel("seconds since the run started")
        return to_svg(fig)


def efficiency(run: Run) -> str | None:
    """Per stage: tokens/J, tokens/$ and GPU utilisation as bars (None if all are absent)."""
    panels = (
        ("gpu_tokens_per_joule", "tokens / J", "no power data"),
        ("tokens_per_dollar", "tokens / $", "no price per hour"),
        ("gpu_util_pct", "GPU util %", "no telemetry"),
    )
    df = run.stages
    if not any(df[column].notna().any() for column, *_ in panels):
        return None
    with figure(1, 3, 3.4) as (fig, axes):
        for ax, (column, title, missing) in zip(axes, panels, strict=True):
            values = pd.to_numeric(df[column], errors="coerce")
            if values.notna().any():
                ax.bar(df["name"].astype(str), values.fillna(0.0))
                ax.tick_params(axis="x", labelrotation=60, labelsize=6)
            else:
                ax.text(0.5, 0.5, missing, ha="center", transform=ax.transAxes)
            ax.set_title(title)
        return to_svg(fig)
