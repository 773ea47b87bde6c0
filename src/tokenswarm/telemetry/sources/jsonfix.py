"""Lenient JSON loading for hy-smi (and DTK rocm-smi) ``--json`` output.

Real hy-smi output is not always valid JSON (TELEMETRY-FORMATS.md pitfall 1): BW drivers omit
the comma between consecutive ``"key": "value"`` pairs and repeat an empty ``"": ""`` key;
other flags splice text before or after the document. Repairs, tried in order until
``json.loads`` succeeds:

1. strict parse (duplicate keys are legal for ``json``: the last one wins);
2. insert the missing comma after a complete ``"k": "v"`` pair or a closing ``}`` that is
   directly followed by the next ``"key"``, and drop trailing commas before ``}``;
3. decode one document with ``json.JSONDecoder().raw_decode`` from the first ``{``/``[`` that
   opens a line (else the first ``{``), so text before it (a warning line) and after it (a
   topology table, a warning holding ``}``) is ignored; then the same on the comma-repaired
   text.

If none works the output raises :class:`ParseError`, so the agent falls back to the text table.
Each repair is reported so the agent can count it in ``parse_warnings``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tokenswarm.telemetry.sources.base import ParseError

_MISSING_COMMA = re.compile(r'("\s*:\s*"[^"\n]*"|\})(\s*")')
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_LINE_START = re.compile(r"^[ \t]*[{\[]", re.MULTILINE)


_FAILED = object()


def _try(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _FAILED


def _add_commas(text: str) -> tuple[str, int]:
    fixed, count = _MISSING_COMMA.subn(r"\1,\2", text)
    fixed, trailing = _TRAILING_COMMA.subn(r"\1", fixed)
    return fixed, count + trailing


def _starts(text: str) -> list[int]:
    """Where the document may begin: a ``{``/``[`` opening a line (after a warning line),
    then the first ``{`` anywhere."""
    starts = [m.end() - 1 for m in _LINE_START.finditer(text)][:8]
    first = text.find("{")
    if first >= 0 and first not in starts:
        starts.append(first)
    return starts


def _decode_from(text: str) -> Any:
    """The first JSON object/array that starts at one of :func:`_starts` (text after it, even
    text with braces, is ignored: ``raw_decode`` stops where the document ends)."""
    decoder = json.JSONDecoder()
    for start in _starts(text):
        try:
            doc, _end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(doc, dict | list):
            return doc
    return _FAILED


def load_lenient(text: str, tool: str) -> tuple[Any, list[str]]:
    """Parse ``text`` as JSON, repairing what hy-smi is known to break; returns (doc, notes)."""
    if not text.strip():
        raise ParseError(f"{tool}: empty output, expected JSON")
    try:
        return json.loads(text), []
    except ValueError as exc:
        first_error = exc
    fixed, count = _add_commas(text)
    if count:
        doc = _try(fixed)
        if doc is not _FAILED:
            return doc, [f"{tool}: repaired invalid JSON: {count} missing/extra comma(s)"]
    around = "; ignored text around the JSON object"
    doc = _decode_from(text)
    if doc is not _FAILED:
        return doc, [f"{tool}: repaired invalid JSON{around}"]
    if count:
        doc = _decode_from(fixed)
        if doc is not _FAILED:
            return doc, [f"{tool}: repaired invalid JSON: {count} missing/extra comma(s){around}"]
    raise ParseError(f"{tool}: output is not JSON and could not be repaired ({first_error})")
