"""``tokenswarm master`` and ``tokenswarm worker``: Locust's master and workers for many hosts.

Both run Locust with the package's own locustfile (so every host runs the code of the
tokenswarm it has installed; the version check refuses a worker that differs from the master):

    tokenswarm master --expect-workers 16 -- --host http://gpu:8000 -u 512 -t 5m --warmup 30
    tokenswarm worker --master-host 10.0.0.5 --processes -1      # on each load host

The master is headless; it waits (``--wait-workers`` s at most) for the expected worker
processes, then runs; the run id and every tokenswarm option reach the workers from the master
(options with the spawn message, the run id and warm-up end by broadcast). ``--processes N`` on
a worker host forks N worker processes (-1: one per core). ``--exit-with-stdin`` stops the
workers when standard input closes: the SSH launcher uses it so that ending the launcher (or a
dropped connection) never leaves workers behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

from tokenswarm.errors import UserError
from tokenswarm.launch.process import forwarding_signals, start_group, stop_group

DEFAULT_MASTER_PORT = 5557
LOCUSTFILE = Path(__file__).resolve().parents[1] / "loadgen" / "locustfile.py"


def master_command(
    expect_workers: int, bind_host: str, bind_port: int, wait_s: float, locust_args: list[str]
) -> list[str]:
    """A headless Locust master over the package's locustfile."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--master",
        "--master-bind-host",
        bind_host,
        "--master-bind-port",
        str(bind_port),
        "--expect-workers",
        str(expect_workers),
        "--expect-workers-max-wait",
        f"{wait_s:g}",
        *locust_args,
    ]


def worker_command(master_host: str, master_port: int, processes: int) -> list[str]:
    """Locust worker process(es) over the package's locustfile."""
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--worker",
        "--master-host",
        master_host,
        "--master-port",
        str(master_port),
    ]
    return [*cmd, "--processes", str(processes)] if processes != 1 else cmd


def register(subparsers: Any) -> None:
    m = subparsers.add_parser(
        "master",
        help="a headless Locust master for workers on other hosts",
        description="Run a headless Locust master with tokenswarm's locustfile; arguments "
        "after -- go to Locust (--host, -u, -t, and tokenswarm's options such as --warmup).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    m.add_argument(
        "--expect-workers",
        type=int,
        required=True,
        help="worker processes (over all hosts) to wait for before starting",
    )
    m.add_argument("--bind-host", default="0.0.0.0", help="address workers connect to")
    m.add_argument("--bind-port", type=int, default=DEFAULT_MASTER_PORT, help="master port")
    m.add_argument(
        "--wait-workers",
        type=float,
        default=300.0,
        help="give up when the workers have not all connected after this many s",
    )
    m.add_argument(
        "locust_args", nargs=argparse.REMAINDER, help="-- then Locust/tokenswarm options"
    )
    m.set_defaults(func=run_master)

    w = subparsers.add_parser(
        "worker",
        help="Locust worker process(es) connecting to a tokenswarm master",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    w.add_argument("--master-host", required=True, help="the master's address")
    w.add_argument("--master-port", type=int, default=DEFAULT_MASTER_PORT, help="master port")
    w.add_argument(
        "--processes", type=int, default=1, help="worker processes on this host (-1: one per core)"
    )
    w.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="stop the workers when standard input closes (SSH launcher)",
    )
    w.set_defaults(func=run_worker)


def run_master(args: argparse.Namespace) -> int:
    if args.expect_workers < 1:
        raise UserError("--expect-workers must be at least 1")
    cmd = master_command(
        args.expect_workers,
        args.bind_host,
        args.bind_port,
        args.wait_workers,
        after_dashes(args.locust_args),
    )
    return _supervise(cmd, exit_with_stdin=False)


def after_dashes(args: list[str]) -> list[str]:
    """argparse.REMAINDER keeps the ``--`` that introduced the arguments: drop that one."""
    return args[1:] if args[:1] == ["--"] else args


def run_worker(args: argparse.Namespace) -> int:
    if args.processes == 0 or args.processes < -1:
        raise UserError("--processes must be -1 (one per core) or at least 1")
    cmd = worker_command(args.master_host, args.master_port, args.processes)
    return _supervise(cmd, exit_with_stdin=args.exit_with_stdin)


def _supervise(cmd: list[str], exit_with_stdin: bool) -> int:
    """Run ``cmd`` in its own process group, forwarding Ctrl-C/SIGTERM; optionally stop the
    group when our stdin reaches EOF (the SSH connection that started us is gone)."""
    proc = start_group(cmd)
    if exit_with_stdin:
        threading.Thread(target=_stop_on_eof, args=(proc,), daemon=True).start()
    with forwarding_signals(proc):
        return proc.wait()


def _stop_on_eof(proc: Any) -> None:
    # os.read, not sys.stdin: a daemon thread blocked in a buffered reader aborts interpreter
    # shutdown ("could not acquire lock for <stdin>")
    while os.read(0, 4096):
        pass
    if proc.poll() is None:
        stop_group(proc)
