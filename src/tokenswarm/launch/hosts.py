"""The SSH launcher's hosts file: one load host per line.

    # [user@]host[:port]   [workers=N]   [python=/path/to/python | venv=/path/to/venv]
    bench@10.0.0.11:2222   workers=8     venv=/opt/tokenswarm/.venv
    10.0.0.12              workers=-1    python=/usr/bin/python3
    [fd00::12]:22                         # IPv6 in brackets

``workers`` is the number of worker processes on that host (-1: one per core, the default);
``python`` is the interpreter that has tokenswarm installed (``venv=DIR`` means
``DIR/bin/python``; default ``python3``). ``#`` starts a comment. A bad line is a UserError
naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tokenswarm.errors import UserError

_ADDRESS = re.compile(
    r"^(?:(?P<user>[^@\s]+)@)?"
    r"(?P<host>\[[^\]]+\]|[^:@\s\[\]]+)(?::(?P<port>\d+))?$"
)
_KEYS = ("workers", "python", "venv")


@dataclass(frozen=True)
class HostSpec:
    """One load host: where to SSH to, how many workers, which Python."""

    host: str
    user: str = ""
    port: int = 22
    workers: int = -1
    python: str = "python3"

    @property
    def destination(self) -> str:
        """``user@host`` (or ``host``) for ssh; IPv6 brackets removed."""
        host = self.host.strip("[]")
        return f"{self.user}@{host}" if self.user else host

    @property
    def label(self) -> str:
        return f"{self.destination}:{self.port}"


def parse_hosts(text: str, source: str = "hosts file") -> list[HostSpec]:
    """Parse the hosts file format above; at least one host is required."""
    hosts = [
        _parse_line(line, f"{source}:{n}")
        for n, raw in enumerate(text.splitlines(), 1)
        if (line := raw.split("#", 1)[0].strip())
    ]
    if not hosts:
        raise UserError(f"{source}: no hosts (one '[user@]host[:port] [workers=N]' per line)")
    return hosts


def load_hosts(path: str) -> list[HostSpec]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read hosts file {path}: {exc.strerror}") from None
    return parse_hosts(text, path)


def _parse_line(line: str, where: str) -> HostSpec:
    address, *fields = line.split()
    match = _ADDRESS.match(address)
    if match is None:
        raise UserError(f"{where}: {address!r} is not [user@]host[:port]")
    values: dict[str, str] = {}
    for item in fields:
        key, sep, value = item.partition("=")
        if not sep or key not in _KEYS or not value:
            raise UserError(f"{where}: {item!r} is not one of workers=N, python=PATH, venv=DIR")
        values[key] = value
    if "python" in values and "venv" in values:
        raise UserError(f"{where}: give python= or venv=, not both")
    python = values.get("python") or (
        f"{values['venv'].rstrip('/')}/bin/python" if "venv" in values else "python3"
    )
    try:
        workers = int(values.get("workers", "-1"))
    except ValueError:
        raise UserError(f"{where}: workers={values['workers']!r} is not a number") from None
    if workers == 0 or workers < -1:
        raise UserError(f"{where}: workers must be -1 (one per core) or at least 1")
    port = int(match["port"] or 22)
    if not 0 < port < 65536:
        raise UserError(f"{where}: port {port} out of range")
    return HostSpec(
        host=match["host"], user=match["user"] or "", port=port, workers=workers, python=python
    )
