"""``tokenswarm run``: one headless load run; without --host, against the built-in simulator.

It checks the target first (one-line errors), then runs Locust as a subprocess with the
package's locustfile (``--workers N`` adds ``--processes N``: a master plus N workers), so
everything ``locust -f locustfiles/openai_chat.py`` does, this does too. The results table is
printed by the results process at the end; files land in ``results/<run_id>/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tokenswarm.errors import UserError
from tokenswarm.loadgen.options import LoadOptions, check_inputs, default_run_id
from tokenswarm.profiles import PROFILE_CHOICES
from tokenswarm.table import format_summary

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")
_PASSTHROUGH = (
    "model",
    "engine",
    "input_tokens",
    "output_tokens",
    "dataset",
    "tokenizer",
    "warmup",
    "results_dir",
    "seed",
    "connect_timeout",
    "first_token_timeout",
    "idle_timeout",
)


def parse_duration(text: str) -> float:
    """'90', '90s', '2m', '1h30m' -> seconds; UserError otherwise."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise UserError(f"invalid duration {text!r} (examples: 30s, 2m, 1h30m)")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def _env(name: str, fallback: Any) -> Any:
    """``$TOKENSWARM_<NAME>`` when set (as Locust's options honour it), else ``fallback``;
    argparse converts string defaults with the option's type."""
    return os.environ.get(f"TOKENSWARM_{name}", fallback)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except empty ones and secrets (an API key from the environment)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, "") or action.dest == "api_key":
            return action.help
        return super()._get_help_string(action)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="one headless load run (default: against the built-in simulated engine)",
        description="Run streaming load against an OpenAI-compatible server and write "
        "results/<run_id>/summary.json and requests.csv. Without --host, a simulated "
        "engine is started on 127.0.0.1 for the duration of the run.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--host", default="", help="server root URL, e.g. http://127.0.0.1:8000 "
                   "(default: start the built-in simulator)")
    p.add_argument("--sim-preset", default="default",
                   help="simulator preset when no --host is given (tokenswarm sim --list-presets)")
    p.add_argument("--endpoint", choices=("chat", "completions"), default="chat",
                   help="/v1/chat/completions or /v1/completions")
    p.add_argument("-u", "--users", type=int, default=16, help="concurrent streams")
    p.add_argument("-r", "--spawn-rate", type=float, default=0.0,
                   help="users started per second (default: all at once)")
    p.add_argument("-t", "--duration", default="20s", help="run time, e.g. 30s, 5m")
    p.add_argument("--warmup", type=float, default=_env("WARMUP", None),
                   help="seconds at the start excluded from metrics (default: 5, or a quarter "
                   "of a shorter run)")
    p.add_argument("--workers", type=int, default=default_workers(),
                   help="local worker processes (0: one process; N: a master + N workers; "
                   "default: one per core)")
    p.add_argument("--model", default=_env("MODEL", ""),
                   help="model id (default: first of /v1/models)")
    p.add_argument("--engine", default=_env("ENGINE", "auto"), choices=PROFILE_CHOICES,
                   help="engine profile")
    p.add_argument("--input-tokens", type=int, default=_env("INPUT_TOKENS", 128),
                   help="prompt tokens")
    p.add_argument("--output-tokens", type=int, default=_env("OUTPUT_TOKENS", 128),
                   help="output tokens per request")
    p.add_argument("--dataset", default=_env("DATASET", "synthetic"),
                   help="synthetic, FILE.jsonl or ShareGPT FILE.json")
    p.add_argument("--tokenizer", default=_env("TOKENIZER", ""),
                   help="tokenizer.json or model directory")
    p.add_argument("--run-id", default="", help="default: a timestamp (or $TOKENSWARM_RUN_ID)")
    p.add_argument("--results-dir", default=_env("RESULTS_DIR", "results"),
                   help="parent of results/<run_id>/")
    p.add_argument("--api-key", default=_env("API_KEY", os.environ.get("OPENAI_API_KEY", "")),
                   help="bearer token (default: $TOKENSWARM_API_KEY or $OPENAI_API_KEY)")
    p.add_argument("--seed", type=int, default=_env("SEED", 0), help="prompt synthesis seed")
    p.add_argument("--connect-timeout", type=float, default=_env("CONNECT_TIMEOUT", 10.0),
                   help="s")
    p.add_argument("--first-token-timeout", type=float,
                   default=_env("FIRST_TOKEN_TIMEOUT", 300.0), help="s")
    p.add_argument("--idle-timeout", type=float, default=_env("IDLE_TIMEOUT", 60.0), help="s")
    p.add_argument("--stop-timeout", type=float, default=30.0,
                   help="seconds in-flight requests may finish after the run time")
    p.set_defaults(func=run)


def effective_warmup(args: argparse.Namespace) -> float:
    """--warmup, or by default 5 s capped at a quarter of the run (short runs stay usable)."""
    if args.warmup is not None:
        return float(args.warmup)
    return min(5.0, parse_duration(args.duration) / 4)


def locust_command(args: argparse.Namespace, host: str, run_id: str) -> list[str]:
    """The Locust command line for these options."""
    args.warmup = effective_warmup(args)
    locustfile = Path(__file__).parent / "loadgen" / "locustfile.py"
    user_class = "OpenAIChatUser" if args.endpoint == "chat" else "OpenAICompletionsUser"
    spawn_rate = args.spawn_rate or args.users
    cmd = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
        "--host", host, "-u", str(args.users), "-r", f"{spawn_rate:g}",
        # Locust takes whole seconds only
        "-t", f"{math.ceil(parse_duration(args.duration))}s",
        "--stop-timeout", f"{math.ceil(args.stop_timeout)}s",
        "--only-summary", "--run-id", run_id, "--loglevel", "WARNING",
    ]
    if args.workers:
        cmd += local_workers_args(args.workers)
    for name in _PASSTHROUGH:
        value = getattr(args, name)
        if value not in ("", None):
            cmd += ["--" + name.replace("_", "-"), str(value)]
    return [*cmd, user_class]


def default_workers() -> int:
    """One worker process per core (a single process on a one-core machine): one Python
    process saturates long before the server does (DESIGN.md section 5)."""
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


def local_workers_args(workers: int) -> list[str]:
    """Locust flags for a master + ``workers`` forked local workers on a free port: two runs
    on one machine (or a test suite) must never connect to each other's master on the
    default port 5557."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    return ["--processes", str(workers), "--master-bind-host", "127.0.0.1",
            "--master-bind-port", port, "--master-host", "127.0.0.1", "--master-port", port]


def _validate(args: argparse.Namespace) -> None:
    if not math.isfinite(args.stop_timeout) or args.stop_timeout < 0:
        raise UserError("--stop-timeout must be >= 0 seconds")
    if args.users < 1:
        raise UserError("--users must be at least 1")
    if args.workers < 0:
        raise UserError("--workers must be >= 0")
    duration = parse_duration(args.duration)
    args.warmup = effective_warmup(args)
    check_inputs(LoadOptions.from_namespace(args))
    if duration <= args.warmup:
        raise UserError(
            f"--duration {args.duration} leaves nothing after --warmup {args.warmup:g} s"
        )


def run(args: argparse.Namespace) -> int:
    from tokenswarm.preflight import check_target

    _validate(args)
    run_id = args.run_id or default_run_id()
    with ExitStack() as stack:
        host = args.host
        if not host:
            host = start_simulator(stack, args.sim_preset)
        check_target(host, args.model, args.api_key)
        cmd = locust_command(args, host, run_id)
        print(f"tokenswarm: run {run_id}: {args.users} users for {args.duration} "
              f"(warm-up {args.warmup:g} s) against {host}", flush=True)
        env = {**os.environ, "TOKENSWARM_RUN_ID": run_id, "TOKENSWARM_PRINT_TABLE": "0",
               "TOKENSWARM_QUIET_LOCUST": "1"}
        if args.api_key:  # by environment, not argv: other users can read argv in ps
            env["TOKENSWARM_API_KEY"] = args.api_key
        code = run_child(cmd, env)
    run_dir = Path(args.results_dir) / run_id
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        if code:  # Locust (or tokenswarm inside it) already said why
            return code
        raise UserError(f"the run wrote no {summary_path} (Locust exited with status {code})")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    print("\n" + format_summary(summary, str(run_dir)), flush=True)
    return code


def start_simulator(stack: ExitStack, preset: str, config: Path | None = None) -> str:
    """Start the built-in simulated engine for the duration of ``stack`` (``config``: a
    ``tokenswarm sim --config`` file over the preset); its URL. Start failures are one line."""
    from tokenswarm.sim.process import SimProcess, SimProcessError

    args = ["--preset", preset, *(["--config", str(config)] if config else [])]
    try:
        sim = stack.enter_context(SimProcess(*args))
    except SimProcessError as exc:
        raise UserError(str(exc).splitlines()[0]) from None
    print(f"tokenswarm: simulated engine (preset {preset}) at {sim.url}", flush=True)
    return sim.url


def run_child(cmd: list[str], env: dict[str, str]) -> int:
    """Run Locust in its own session and forward SIGINT/SIGTERM to it exactly once each, so
    Ctrl-C (terminal) and ``kill -INT`` (this process only) both stop the run gracefully:
    in-flight requests finish within --stop-timeout and the results are written."""
    child = subprocess.Popen(cmd, env=env, start_new_session=True)

    forwarded: set[int] = set()

    def forward(signum: int, _frame: Any) -> None:
        # once per signal: a terminal's Ctrl-C or `kill -TERM -PGID` can deliver it to us and
        # to Locust both, and a second one makes Locust shut down twice, losing the summary
        if signum in forwarded:
            return
        forwarded.add(signum)
        print("tokenswarm: interrupted, stopping the run and writing results", flush=True)
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # the session holds exactly Locust's master and the workers it forked: none outlives us
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
