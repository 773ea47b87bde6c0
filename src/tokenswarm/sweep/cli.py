"""``tokenswarm sweep``: the concurrency sweep from a YAML config and/or flags, then the report.

Flags override the config file, which overrides the defaults (``configs/sim.yaml`` documents
every key). ``--scenario`` replaces the config's scenario list; ``--levels`` sets the levels of
every scenario. Without a target host the built-in simulated engine is started, with the
telemetry agent on its simulated GPUs, so the sweep runs anywhere.
"""

from __future__ import annotations

import argparse
from typing import Any

from tokenswarm.run_cli import HelpFormatter
from tokenswarm.slo import parse_cli

# flag dest -> (section, key) in the config mapping
_OVERRIDES: dict[str, tuple[str, str]] = {
    "host": ("target", "host"),
    "engine": ("target", "engine"),
    "model": ("target", "model"),
    "endpoint": ("target", "endpoint"),
    "dataset": ("target", "dataset"),
    "tokenizer": ("target", "tokenizer"),
    "sim_preset": ("sim", "preset"),
    "duration": ("load", "duration"),
    "requests": ("load", "requests"),
    "warmup": ("load", "warmup"),
    "spawn_rate": ("load", "spawn_rate"),
    "workers": ("load", "workers"),
    "expect_workers": ("load", "expect_workers"),
    "master_bind_host": ("load", "master_bind_host"),
    "master_bind_port": ("load", "master_bind_port"),
    "accelerators": ("hardware", "accelerators"),
    "price_per_hour": ("hardware", "price_per_hour"),
    "influx_url": ("influx", "url"),
}


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="concurrency sweep over scenarios, with SLO verdicts and an HTML report",
        description="Walk scenarios x concurrency levels (ramp, warm-up excluded, steady "
        "window per stage), write results/<run_id>/ (summary.json, stages.csv, requests.csv, "
        "config.yaml) and build report.html + report.md. Without a host (flag or config), "
        "the built-in simulated engine and a telemetry agent on its simulated GPUs are "
        "started. Ctrl-C stops cleanly and keeps what was measured.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("-c", "--config", default="", help="YAML config (see configs/sim.yaml)")
    p.add_argument("--host", default=None, help="server root URL (default: the simulator)")
    p.add_argument("--engine", default=None, help="engine profile (auto, vllm, sglang, ...)")
    p.add_argument("--model", default=None, help="model id (default: first of /v1/models)")
    p.add_argument("--endpoint", default=None, choices=("chat", "completions"))
    p.add_argument("--dataset", default=None, help="synthetic, FILE.jsonl or ShareGPT FILE.json")
    p.add_argument("--tokenizer", default=None, help="tokenizer.json or model directory")
    p.add_argument("--sim-preset", default=None, help="simulator preset (no host)")
    p.add_argument("-s", "--scenario", action="append", default=[], metavar="NAME[:LEVELS]",
                   help="scenario to run, repeatable: short, medium, long, stress, optionally "
                   "with levels (short:1,4,16); replaces the config's list")
    p.add_argument("--levels", default=None, metavar="N,N,...",
                   help="concurrency levels for every scenario, e.g. 1,2,4")
    p.add_argument("-t", "--duration", default=None, help="steady window per stage (e.g. 30s)")
    p.add_argument("--requests", type=int, default=None,
                   help="instead of a duration: completed requests per stage")
    p.add_argument("--warmup", default=None, help="warm-up per stage, excluded (e.g. 5s)")
    p.add_argument("-r", "--spawn-rate", type=float, default=None,
                   help="users started per second (0: all at once)")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (0: one process)")
    p.add_argument("--expect-workers", type=int, default=None,
                   help="run only the master and wait for this many external workers "
                   "(locust -f locustfiles/sweep.py --worker --master-host ..., or "
                   "launchers/worker.sh)")
    p.add_argument("--master-bind-host", default=None,
                   help="with --expect-workers: interface the master listens on (default *)")
    p.add_argument("--master-bind-port", type=int, default=None,
                   help="with --expect-workers: port the master listens on (default 5557)")
    p.add_argument("--slo", action="append", default=[], metavar="KEY=VALUE",
                   help="SLO target, repeatable: ttft_p99_ms=100, itl_p99_ms=100, "
                   "error_pct=1, ... (KEY=off drops one)")
    p.add_argument("--early-stop", action="store_true", default=None,
                   help="skip a scenario's higher levels once a level breaks the SLOs")
    p.add_argument("--accelerators", type=int, default=None,
                   help="accelerators serving the model (for per-card figures, scaling)")
    p.add_argument("--price-per-hour", type=float, default=None,
                   help="cost of the server under test per hour (tokens/$)")
    p.add_argument("--influx-url", default=None, help="also write load points to InfluxDB")
    p.add_argument("--run-id", default=None, help="default: a timestamp")
    p.add_argument("--results-dir", default=None, help="parent of results/<run_id>/")
    p.add_argument("--no-report", action="store_true", help="skip report.html/report.md")
    p.set_defaults(func=run)


def overrides(args: argparse.Namespace, data: dict[str, Any]) -> dict[str, Any]:
    """The config mapping with the flags that were given applied on top."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for dest, (section, key) in _OVERRIDES.items():
        value = getattr(args, dest)
        if value is not None:
            out.setdefault(section, {})
            if not isinstance(out[section], dict):
                continue  # resolve() reports the malformed section
            out[section][key] = value
    if args.scenario:
        out["scenarios"] = list(args.scenario)
    if args.levels:
        out["scenarios"] = [_with_levels(entry, args.levels)
                            for entry in out.get("scenarios") or ["short"]]
    if args.slo:
        out["slo"] = {**(out.get("slo") or {}), **parse_cli(args.slo)}
    if args.early_stop is not None:
        out["early_stop"] = True
    for key in ("run_id", "results_dir"):
        if getattr(args, key) is not None:
            out[key] = getattr(args, key)
    if args.no_report:
        out.setdefault("report", {})["enabled"] = False
    return out


def _with_levels(entry: Any, levels: str) -> Any:
    if isinstance(entry, str):
        return f"{entry.partition(':')[0]}:{levels}"
    if isinstance(entry, dict):
        return {**entry, "concurrency": levels}
    return entry


def run(args: argparse.Namespace) -> int:
    from tokenswarm.sweep.config import load_config_file, resolve
    from tokenswarm.sweep.plan import SweepPlan
    from tokenswarm.sweep.runner import run_sweep

    source = args.config or "flags"
    cfg = resolve(overrides(args, load_config_file(args.config)), source)
    plan = SweepPlan.from_config(cfg)  # validates scenarios and SLOs before anything starts
    return run_sweep(cfg, plan)
