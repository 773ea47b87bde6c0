"""Running a sweep: simulator and telemetry agent when needed, Locust with the sweep shape, then
the results enrichment, the stage table and the report.

Locust runs as a child in its own session (Ctrl-C and SIGTERM are forwarded once: in-flight
requests finish within the stop timeout, the stages measured so far are written). Everything
started here (simulator, agent, Locust and its workers) is stopped on the way out.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tokenswarm.errors import UserError
from tokenswarm.loadgen.options import default_run_id
from tokenswarm.run_cli import local_workers_args, run_child, start_simulator
from tokenswarm.sweep.enrich import engine_version, enrich_summary
from tokenswarm.sweep.plan import SweepPlan
from tokenswarm.table import format_stages

AGENT_START_S = 1.0  # a bad agent setting ends it within this; a good one keeps running
LOCUSTFILE = Path(__file__).resolve().parent.parent / "loadgen" / "sweep_locustfile.py"


def run_sweep(cfg: dict[str, Any], plan: SweepPlan) -> int:

    run_id = cfg["run_id"] or default_run_id()
    run_dir = Path(cfg["results_dir"]) / run_id
    if (run_dir / "summary.json").exists():
        raise UserError(f"{run_dir} already holds a run: choose another --run-id")
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _sweep_in(run_dir, cfg, plan, run_id)
    except UserError:
        # nothing was measured: leave no results folder that `tokenswarm report` would refuse
        if created and not (run_dir / "requests.csv").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _sweep_in(run_dir: Path, cfg: dict[str, Any], plan: SweepPlan, run_id: str) -> int:
    from tokenswarm.preflight import check_target

    config_path = run_dir / "config.yaml"
    config_path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    target_cfg = cfg["target"]
    api_key = _api_key(target_cfg["api_key_env"])
    with ExitStack() as stack:
        host = target_cfg["host"]
        simulated = not host
        if simulated:
            host = _start_simulator(stack, cfg, run_dir)
        target = check_target(host, target_cfg["model"], api_key)
        if cfg["load"]["expect_workers"] and _loopback(host):
            print(f"tokenswarm: warning: the target {host} is a loopback address: workers on "
                  "other hosts will call their own machine (give --host an address they reach)",
                  file=sys.stderr, flush=True)
        version = engine_version(host, api_key)  # now: the simulator stops with this block
        agent_on = cfg["telemetry"]["agent"] is True or (
            cfg["telemetry"]["agent"] == "auto" and simulated)
        if agent_on:
            _start_agent(stack, cfg, run_id, host, simulated)
        length = f"{'at most' if plan.requests else 'about'} {_minutes(plan.total_s())}"
        print(f"tokenswarm: sweep {run_id}: {len(plan.stages)} stages "
              f"({', '.join(dict.fromkeys(s.scenario for s in plan.stages))}), {length} "
              f"against {host} (model {target.model})", flush=True)
        code = run_child(locust_command(cfg, host, run_id, config_path), _child_env(cfg, run_id,
                                                                                   api_key))
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise UserError(f"the sweep wrote no {summary_path} (Locust exited with status {code}; "
                        "its output above says why)")
    summary = enrich_summary(run_dir, cfg, host, target, version)
    print("\n" + format_stages(summary, str(run_dir)), flush=True)
    if cfg["report"]["enabled"]:
        _report(run_dir, summary)
    return code


def locust_command(cfg: dict[str, Any], host: str, run_id: str, config_path: Path) -> list[str]:
    target, load = cfg["target"], cfg["load"]
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", host, "--sweep-config", str(config_path), "--run-id", run_id,
        "--results-dir", str(cfg["results_dir"]), "--only-summary", "--loglevel", "WARNING",
        "--stop-timeout", f"{math.ceil(load['stop_timeout'])}s",
        "--engine", target["engine"], "--dataset", target["dataset"],
        "--seed", str(load["seed"]),
        "--connect-timeout", str(load["connect_timeout"]),
        "--first-token-timeout", str(load["first_token_timeout"]),
        "--idle-timeout", str(load["idle_timeout"]),
    ]
    for flag, value in (("--model", target["model"]), ("--tokenizer", target["tokenizer"])):
        if value:
            cmd += [flag, value]
    if load["expect_workers"]:
        cmd += ["--master", "--expect-workers", str(load["expect_workers"]),
                "--master-bind-host", str(load["master_bind_host"]),
                "--master-bind-port", str(load["master_bind_port"])]
    elif load["workers"]:
        cmd += local_workers_args(load["workers"])
    return cmd


def _child_env(cfg: dict[str, Any], run_id: str, api_key: str) -> dict[str, str]:
    env = {**os.environ, **_influx_env(cfg), "TOKENSWARM_RUN_ID": run_id,
           "TOKENSWARM_PRINT_TABLE": "0", "TOKENSWARM_QUIET_LOCUST": "1"}
    if api_key:  # by environment, not argv: other users can read argv in ps
        env["TOKENSWARM_API_KEY"] = api_key
    return env


def _influx_env(cfg: dict[str, Any]) -> dict[str, str]:
    """The ``influx:`` section as ``TOKENSWARM_INFLUX_*`` variables, which Locust's processes
    and the telemetry agent both read (the token from the variable named by ``token_env``)."""
    influx = cfg["influx"]
    if not influx["url"]:
        return {}
    env = {f"TOKENSWARM_INFLUX_{key.upper()}": str(influx[key])
           for key in ("url", "database", "org", "bucket") if influx[key]}
    if influx["token_env"]:
        env["TOKENSWARM_INFLUX_TOKEN"] = os.environ.get(influx["token_env"], "")
    if influx["required"]:
        env["TOKENSWARM_INFLUX_REQUIRED"] = "true"
    if influx["grafana_url"]:
        env["TOKENSWARM_GRAFANA_URL"] = influx["grafana_url"]
    return env


def _api_key(env_name: str) -> str:
    if env_name:
        if env_name not in os.environ:
            raise UserError(f"target.api_key_env: ${env_name} is not set")
        return os.environ[env_name]
    return os.environ.get("TOKENSWARM_API_KEY") or os.environ.get("OPENAI_API_KEY", "")


def _start_simulator(stack: ExitStack, cfg: dict[str, Any], run_dir: Path) -> str:
    """The simulated engine: ``sim.preset`` overlaid by ``sim.settings`` (any key of
    ``tokenswarm sim --config``, e.g. max_num_seqs, base_ms), saved as run_dir/sim.yaml."""
    settings = cfg["sim"]["settings"]
    sim_config = None
    if settings:  # validated with the config (tokenswarm.sweep.config)
        sim_config = run_dir / "sim.yaml"
        sim_config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return start_simulator(stack, cfg["sim"]["preset"], sim_config)


def _start_agent(stack: ExitStack, cfg: dict[str, Any], run_id: str, host: str,
                 simulated: bool) -> None:
    """The telemetry agent, writing results/<run_id>/telemetry.jsonl (and InfluxDB when
    configured); on the simulator, it reads simulated GPUs through a fake rocm-smi."""
    from tokenswarm.sim.fakesmi import install
    from tokenswarm.telemetry.process import AgentProcess

    env = {**os.environ, **_influx_env(cfg), "TOKENSWARM_RUN_ID": run_id}
    sources = "auto"
    if simulated:
        tools = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tokenswarm-gpu-")))
        cards = str(cfg["hardware"]["accelerators"])
        install(tools, "rocm-smi", "--engine-url", host, "--cards", cards,
                "--state", str(tools / "gpu-state.json"))
        env["PATH"] = f"{tools}{os.pathsep}{env['PATH']}"
        sources = "rocm-smi,engine,host"
    args = ["--sources", sources, "--engine-url", host, "--run-id", run_id,
            "--results-dir", str(cfg["results_dir"]),
            "--interval-s", str(cfg["telemetry"]["interval"])]
    agent = stack.enter_context(AgentProcess(*args, env=env))
    if agent.proc is not None and _exited_within(agent.proc, AGENT_START_S):
        last = (agent.output().strip().splitlines() or ["no output"])[-1]
        raise UserError(f"the telemetry agent stopped at start: {last}")
    print(f"tokenswarm: telemetry agent ({sources}) -> "
          f"{Path(cfg['results_dir']) / run_id / 'telemetry.jsonl'}", flush=True)


def _report(run_dir: Path, summary: dict[str, Any]) -> None:
    """``tokenswarm report run_dir`` with the sweep's SLO targets (those turned off stay off)."""
    from tokenswarm.cli import build_parser
    from tokenswarm.slo import DEFAULT_SLO

    slo = summary.get("slo") or {}
    argv = ["report", str(run_dir)]
    for key in {**DEFAULT_SLO, **slo}:
        argv += ["--slo", f"{key}={slo.get(key, 'off')}"]
    args = build_parser().parse_args(argv)
    args.func(args)


def _exited_within(proc: Any, seconds: float) -> bool:
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"
