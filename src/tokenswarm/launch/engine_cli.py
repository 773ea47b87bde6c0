"""``tokenswarm engine``: serve a model with vLLM / SGLang / Xinference, run a command, stop.

    tokenswarm engine --config configs/vllm.yaml -- \
        tokenswarm sweep --config configs/vllm.yaml --host {url} --run-id {run_id}
    tokenswarm engine --config configs/vllm.yaml --scaling 1,8 -- \
        tokenswarm sweep --config configs/vllm.yaml --host {url} --run-id {run_id} \
        --accelerators {accelerators}

The second form runs the whole flow twice (1 accelerator, then 8 with tensor parallelism 8, or
data parallelism with ``scale_by: data``) and prints the ``tokenswarm report`` command that
compares the two results directories (scaling efficiency = tps(8) / (8 * tps(1))).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from tokenswarm.errors import UserError
from tokenswarm.launch.engine_flow import scaling_runs, serve_and_run
from tokenswarm.launch.engines import EngineLaunch
from tokenswarm.launch.nodes import after_dashes
from tokenswarm.loadgen.options import default_run_id


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "engine",
        help="start an inference server, run a command against it, stop it",
        description="Start vLLM, SGLang or Xinference from the launch: block of a config, wait "
        "until GET /v1/models answers, run the command after -- ({url}, {run_id}, "
        "{accelerators}, {model} substituted), then stop the server's process group.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--config", required=True, help="YAML file with a launch: block")
    p.add_argument(
        "--accelerators",
        type=int,
        default=0,
        help="use the first N devices, parallel over N (0: as configured)",
    )
    p.add_argument(
        "--scaling", default="", help="accelerator counts to run one after the other, e.g. 1,8"
    )
    p.add_argument("--run-id", default="", help="run id (scaling: suffixed -1x, -8x)")
    p.add_argument("--results-dir", default="results", help="where the engine logs go")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    p.set_defaults(func=run)


def load_launch(path: str) -> EngineLaunch:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or "launch" not in data:
        raise UserError(f"{path}: no launch: block")
    return EngineLaunch.from_mapping(data["launch"], f"{path} launch")


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--scaling {text!r}: expected counts like 1,8") from None
    if len(counts) < 2 or min(counts) < 1:
        raise UserError(f"--scaling {text!r}: give at least two counts >= 1, e.g. 1,8")
    return counts


def run(args: argparse.Namespace) -> int:
    command = after_dashes(args.command)
    if not command:
        raise UserError("no command to run: add -- and the command (e.g. tokenswarm sweep ...)")
    launch = load_launch(args.config)
    run_id = args.run_id or default_run_id()
    log_dir = Path(args.results_dir)
    if args.scaling:
        results = scaling_runs(launch, parse_counts(args.scaling), command, run_id, log_dir)
        failed = [r for r in results if r.exit_code]
        if failed:
            return failed[0].exit_code
        dirs = " ".join(str(log_dir / r.run_id) for r in results)
        print(
            f"tokenswarm: scaling runs done; compare them with: tokenswarm report {dirs}",
            flush=True,
        )
        return 0
    if args.accelerators:
        launch = launch.with_accelerators(args.accelerators)
    result = serve_and_run(launch, command, run_id, log_dir / f"engine-{run_id}.log")
    return result.exit_code
