"""``tokenswarm report RESULTS_DIR [RESULTS_DIR ...]``: one HTML file + a Markdown summary."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tokenswarm.errors import UserError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="HTML + Markdown benchmark report of one or more results directories",
        description="Build one self-contained HTML report (plots inline, works offline) and a "
        "Markdown summary from results/<run_id>/ directories: throughput and latency vs "
        "concurrency, latency CDFs, time series with GPU telemetry, energy and cost per stage, "
        "SLO verdicts, saturation points, scaling efficiency across accelerator counts and "
        "tuning advice. Several directories are compared side by side.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "results",
        nargs="+",
        type=Path,
        metavar="RESULTS_DIR",
        help="results/<run_id> folder(s) holding summary.json",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="HTML file to write; the Markdown goes beside it with .md "
        "(default: RESULTS_DIR/report.html and report.md of the first folder)",
    )
    p.add_argument(
        "--slo",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="SLO target (repeatable): <ttft|itl|tpot|e2e>_<p50|p90|p95|p99|p99.9|"
        "mean|max>_ms (default ttft_p99_ms=100, itl_p99_ms=100), error_pct (1), "
        "output_tps_per_accelerator (1800), scaling_efficiency_pct (95), "
        "gpu_util_pct (85); KEY=off drops a check",
    )
    p.add_argument(
        "--influx-url",
        default="",
        help="read GPU/engine telemetry from this InfluxDB (v1 query API; "
        "measurements gpu and engine, tag run_id) instead of telemetry.jsonl",
    )
    p.add_argument("--influx-database", default="tokenswarm", help="InfluxDB database")
    p.add_argument("--influx-token", default="", help="InfluxDB token (2.x/3.x)")
    p.set_defaults(func=run)


def output_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    html = args.output or args.results[0] / "report.html"
    if not html.parent.is_dir():
        raise UserError(f"cannot write {html}: {html.parent} is not a directory")
    return html, html.with_suffix(".md")


def run(args: argparse.Namespace) -> int:
    from tokenswarm.report import document, html, markdown
    from tokenswarm.report.influx_source import InfluxSource
    from tokenswarm.report.load import load_run
    from tokenswarm.report.slo import targets as parse_targets

    targets = parse_targets(args.slo)
    source = (
        InfluxSource(args.influx_url, args.influx_database, args.influx_token)
        if args.influx_url
        else None
    )
    runs = [load_run(path, source) for path in args.results]  # bad folders are named first
    html_path, md_path = output_paths(args)
    seen: dict[str, Path] = {}
    for run in runs:
        if run.run_id in seen:
            raise UserError(
                f"{seen[run.run_id]} and {run.path} hold the same run id "
                f"{run.run_id!r}: give each run once"
            )
        seen[run.run_id] = run.path
    report = document.build(runs, targets)
    html_path.write_text(html.render(report), encoding="utf-8")
    md_path.write_text(markdown.render(report, html_path.name), encoding="utf-8")
    print(f"tokenswarm: report {html_path} (summary {md_path})", flush=True)
    return 0
