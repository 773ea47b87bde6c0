"""``tokenswarm ssh-workers``: start Locust workers on every host of a hosts file over SSH.

For each host (see :mod:`tokenswarm.launch.hosts`) one ``ssh`` client runs, on that host,

    exec env TOKENSWARM_RUN_ID=<id> <python> -m tokenswarm worker --master-host <master> \
        --master-port <port> --processes <workers> --exit-with-stdin

so the remote worker checks its own installation (``python -m tokenswarm`` fails in one line
when it is missing) and its versions against the master's (refused with one line). Its output
comes back prefixed with ``[user@host:port]``. The ssh client's stdin stays open: closing it
(this launcher stopping, Ctrl-C, or the connection dropping) makes the remote worker stop, so
no worker outlives its launcher. ``BatchMode=yes``: a host that would ask for a password fails
at once instead of hanging a 100-host start.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import threading
import time
from typing import IO, Any

from tokenswarm.errors import UserError
from tokenswarm.launch.hosts import HostSpec, load_hosts
from tokenswarm.launch.nodes import DEFAULT_MASTER_PORT
from tokenswarm.launch.process import start_group, stop_group

STOP_GRACE_S = 15.0
_print_lock = threading.Lock()


def remote_command(spec: HostSpec, master_host: str, master_port: int, run_id: str) -> str:
    """The shell command ssh runs on the load host."""
    env = ["env", f"TOKENSWARM_RUN_ID={run_id}"] if run_id else []
    argv = [
        *env,
        spec.python,
        "-m",
        "tokenswarm",
        "worker",
        "--master-host",
        master_host,
        "--master-port",
        str(master_port),
        "--processes",
        str(spec.workers),
        "--exit-with-stdin",
    ]
    return "exec " + shlex.join(argv)


def ssh_command(
    spec: HostSpec, remote: str, ssh: str = "ssh", identity: str = "", options: tuple[str, ...] = ()
) -> list[str]:
    """The local ssh client command line for one host."""
    cmd = [ssh, "-p", str(spec.port), "-o", "BatchMode=yes", "-o", "ServerAliveInterval=15"]
    if identity:
        cmd += ["-i", identity]
    for option in options:
        cmd += ["-o", option]
    return [*cmd, spec.destination, remote]


class SshWorkers:
    """One ssh client per host; their output relayed line by line with the host as prefix."""

    def __init__(self, commands: dict[str, list[str]], out: IO[str] = sys.stdout) -> None:
        self.commands = commands
        self.out = out
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._relays: list[threading.Thread] = []

    def start(self) -> SshWorkers:
        for label, cmd in self.commands.items():
            proc = start_group(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            self.procs[label] = proc
            relay = threading.Thread(target=self._relay, args=(label, proc), daemon=True)
            relay.start()
            self._relays.append(relay)
        return self

    def _relay(self, label: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            with _print_lock:
                self.out.write(f"[{label}] {raw.decode(errors='replace').rstrip()}\n")
                self.out.flush()

    def wait(self) -> dict[str, int]:
        """Exit status per host, once every ssh client ended."""
        codes = {label: proc.wait() for label, proc in self.procs.items()}
        for relay in self._relays:
            relay.join(5)
        return codes

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Close every stdin (remote workers stop), then stop what is still running."""
        for proc in self.procs.values():
            if proc.stdin is not None and not proc.stdin.closed:
                proc.stdin.close()
        deadline = time.monotonic() + grace_s
        for proc in self.procs.values():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                stop_group(proc, grace_s=2.0)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "ssh-workers",
        help="start workers on the hosts of a hosts file over SSH",
        description="Start Locust workers over SSH on every host of a hosts file "
        "('[user@]host[:port] [workers=N] [python=PATH|venv=DIR]' per line); they connect "
        "to the master and stop when it ends the run or when this command is stopped.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--hosts", required=True, help="hosts file")
    p.add_argument("--master-host", required=True, help="the master's address, as seen by hosts")
    p.add_argument("--master-port", type=int, default=DEFAULT_MASTER_PORT, help="master port")
    p.add_argument("--run-id", default="", help="TOKENSWARM_RUN_ID for the workers' own tags")
    p.add_argument("-i", "--identity", default="", help="ssh private key file")
    p.add_argument(
        "-o",
        "--ssh-option",
        action="append",
        default=[],
        help="extra ssh -o option, repeatable (e.g. StrictHostKeyChecking=accept-new)",
    )
    p.add_argument("--ssh", default="ssh", help="ssh client")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    hosts = load_hosts(args.hosts)
    labels = [spec.label for spec in hosts]
    if len(set(labels)) != len(labels):
        raise UserError(f"{args.hosts}: a host is listed twice")
    commands = {
        spec.label: ssh_command(
            spec,
            remote_command(spec, args.master_host, args.master_port, args.run_id),
            args.ssh,
            args.identity,
            tuple(args.ssh_option),
        )
        for spec in hosts
    }
    known = [spec.workers for spec in hosts if spec.workers > 0]
    total = f"{sum(known)} worker processes" if len(known) == len(hosts) else "workers"
    print(
        f"tokenswarm: starting {total} on {len(hosts)} hosts for master "
        f"{args.master_host}:{args.master_port}",
        flush=True,
    )
    launcher = SshWorkers(commands).start()
    try:
        codes = launcher.wait()
    except KeyboardInterrupt:
        print("tokenswarm: stopping the remote workers", file=sys.stderr, flush=True)
        launcher.stop()
        return 130
    failed = {label: code for label, code in codes.items() if code}
    for label, code in failed.items():
        print(f"tokenswarm: workers on {label} exited with status {code}", file=sys.stderr)
    return max(failed.values(), default=0)
