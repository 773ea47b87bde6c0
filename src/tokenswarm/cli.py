"""The ``tokenswarm`` command: one entry point, one subcommand per job.

Subcommand modules are imported lazily so that ``tokenswarm sim`` never imports locust/gevent
(monkey patching would slow the asyncio server) and ``tokenswarm run`` imports locust first.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from tokenswarm import __version__
from tokenswarm.errors import UserError

Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _registrars() -> list[Registrar]:
    from tokenswarm import run_cli
    from tokenswarm.launch import cli as launch_cli
    from tokenswarm.report import cli as report_cli
    from tokenswarm.sim import cli as sim_cli
    from tokenswarm.sweep import cli as sweep_cli
    from tokenswarm.telemetry import cli as telemetry_cli

    return [
        sweep_cli.register,
        run_cli.register,
        report_cli.register,
        sim_cli.register,
        telemetry_cli.register,
        launch_cli.register,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenswarm",
        description="Load-test OpenAI-compatible LLM servers: token-exact TTFT/ITL/TPOT, "
        "merged percentiles across Locust workers, a built-in simulated engine.",
    )
    parser.add_argument("--version", action="version", version=f"tokenswarm {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _registrars():
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except UserError as exc:
        print(f"tokenswarm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tokenswarm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        sys.stderr.close()
        return 141


if __name__ == "__main__":
    sys.exit(main())
