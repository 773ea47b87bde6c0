"""``python -m tokenswarm.sim ARGS`` is ``tokenswarm sim ARGS`` importing nothing but the sim.

:class:`tokenswarm.sim.process.SimProcess` starts the simulator this way, so the server process
never imports another subcommand's modules (locust/gevent monkey patching would slow it down).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tokenswarm.errors import UserError
from tokenswarm.sim.cli import register


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` as the arguments of ``tokenswarm sim`` and run it (UserError: exit 2)."""
    parser = argparse.ArgumentParser(prog="tokenswarm")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sim", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"tokenswarm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
