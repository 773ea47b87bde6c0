"""User-facing errors: raised for bad input, printed as one line by the CLI (never a traceback)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A mistake the user can fix (bad flag, unreachable host, missing file).

    The CLI prints ``tokenswarm: error: <message>`` and exits with status 2.
    """


def unknown_key(where: str, key: str, known: Iterable[str], listed: str = "") -> UserError:
    """``<where>: unknown key 'x' (did you mean 'y'?)``, or ``(known: ...)`` when nothing is
    close (``listed`` replaces the list of known keys in that hint)."""
    names = list(known)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {listed or ', '.join(names)}"
    return UserError(f"{where}: unknown key {key!r} ({hint})")
