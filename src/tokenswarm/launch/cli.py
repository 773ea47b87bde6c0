"""The launchers' subcommands: ``master``, ``worker``, ``ssh-workers`` and ``engine``."""

from __future__ import annotations

from typing import Any

from tokenswarm.launch import engine_cli, nodes, ssh


def register(subparsers: Any) -> None:
    nodes.register(subparsers)
    ssh.register(subparsers)
    engine_cli.register(subparsers)
