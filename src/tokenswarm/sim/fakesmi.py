"""A fake ``rocm-smi`` / ``hy-smi`` for tests and demos: replays captures or simulates GPUs.

    python -m tokenswarm.sim.fakesmi --replay capture.json [--replay-text table.txt]
        [--delay-s S [--delay-while FILE]] [--fail-json] [--reject-flag=FLAG]...
        [--busy-once FILE] -- TOOL ARGS...
    python -m tokenswarm.sim.fakesmi --engine-url http://127.0.0.1:8000 --cards 8 -- ARGS...

The tool's own arguments come after ``--`` and are answered like the real tool would: a
version probe (``--showdriverversion``/``--version``) gets a driver-version line, a ``--json``
call the JSON capture (or the simulated GPUs' JSON), any other call the text capture (or the
simulated readings as ``GPU[N] : key: value`` lines). :func:`install` writes a wrapper script
named like the real tool into a folder, so the unmodified agent finds it on PATH. Standard
library only: one process per poll must start fast.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tokenswarm.sim import fakegpu

VERSION_ARGS = ("--showdriverversion", "--version", "-V")


def install(folder: str | Path, name: str, *fake_args: str, python: str = sys.executable,
            exec_: bool = True) -> Path:
    """Write ``folder/name`` running this module with ``fake_args``; returns its path.

    ``exec_=False`` keeps the shell as parent of the Python process (a process group of two,
    like DTK's shell-wrapped rocm-smi) to prove the agent kills the whole group on timeout.
    """
    path = Path(folder) / name
    command = " ".join(shlex.quote(a) for a in (python, "-m", "tokenswarm.sim.fakesmi",
                                                "--tool", name, *fake_args))
    path.write_text(f'#!/bin/sh\n{"exec " if exec_ else ""}{command} -- "$@"\n')
    path.chmod(0o755)
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fakesmi", description=__doc__.splitlines()[0])
    parser.add_argument("--tool", default="rocm-smi", help="tool to imitate (version line)")
    parser.add_argument("--replay", help="capture printed for --json calls (or all calls)")
    parser.add_argument("--replay-text", help="capture printed for non-JSON calls")
    parser.add_argument("--engine-url", help="simulate GPUs from this simulator's /sim/stats")
    parser.add_argument("--cards", type=int, default=8, help="simulated GPUs (default 8)")
    parser.add_argument("--state", help="state file of the simulated GPUs' last reading")
    parser.add_argument("--delay-s", type=float, default=0.0, help="sleep before answering")
    parser.add_argument("--delay-while", metavar="FILE",
                        help="apply --delay-s only while FILE exists (a hang that ends)")
    parser.add_argument("--fail-json", action="store_true",
                        help="reject --json like an old tool (exit status 2)")
    parser.add_argument("--reject-flag", action="append", default=[], metavar="FLAG",
                        help="refuse calls with FLAG like an old tool (usage error, status 2)")
    parser.add_argument("--busy-once", metavar="FILE",
                        help="while FILE exists, fail the next --json call with status 1 "
                        "('device busy') and delete FILE: a transient failure")
    parser.add_argument("--version-text", help="answer to the version probe")
    parser.add_argument("tool_args", nargs=argparse.REMAINDER)
    return parser


def _simulated(engine_url: str | None, cards: int, state_file: str | None) -> dict[str, object]:
    if not engine_url:
        return fakegpu.document(cards, 0.0, 0.0)
    with urllib.request.urlopen(engine_url.rstrip("/") + "/sim/stats", timeout=5) as resp:
        stats = json.loads(resp.read())
    now = fakegpu.EngineState(float(stats["busy_seconds"]), float(stats["clock_seconds"]),
                              int(stats["running"]), float(stats["kv_cache_usage"]))
    key = hashlib.sha1(engine_url.encode()).hexdigest()[:12]
    path = Path(state_file or Path(tempfile.gettempdir()) / f"tokenswarm-fakesmi-{key}.json")
    util = fakegpu.utilisation(now, fakegpu.load_state(path))
    fakegpu.save_state(path, now)
    return fakegpu.document(cards, util, now.kv_cache_usage)


def _version_line(tool: str) -> str:
    if tool == "hy-smi":
        return "Driver Version: 6.3.31-V1.5.0a"
    return "Driver version: 6.8.5"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    tool_args = [a for a in args.tool_args if a != "--"]
    if args.delay_s > 0 and (args.delay_while is None or os.path.exists(args.delay_while)):
        time.sleep(args.delay_s)
    if any(a in VERSION_ARGS for a in tool_args):
        print(args.version_text or _version_line(args.tool))
        return 0
    wants_json = "--json" in tool_args
    if wants_json and args.fail_json:
        print(f"{args.tool}: error: unrecognized arguments: --json", file=sys.stderr)
        return 2
    refused = [a for a in tool_args if a in args.reject_flag]
    if refused:
        print(f"usage: {args.tool} [options]\n{args.tool}: error: unrecognized arguments: "
              f"{' '.join(refused)}", file=sys.stderr)
        return 2
    if wants_json and args.busy_once and os.path.exists(args.busy_once):
        os.unlink(args.busy_once)
        print(f"{args.tool}: device busy, try again", file=sys.stderr)
        return 1
    if args.replay or args.replay_text:
        capture = args.replay if wants_json or not args.replay_text else args.replay_text
        sys.stdout.write(Path(capture).read_text())
        return 0
    try:
        doc = _simulated(args.engine_url, args.cards, args.state)
    except (OSError, ValueError, KeyError) as exc:
        print(f"{args.tool}: cannot read {args.engine_url}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(doc, indent=4) + "\n" if wants_json else fakegpu.text(doc))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
