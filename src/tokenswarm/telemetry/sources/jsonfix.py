"""Lenient JSON loading for hy-smi (and DTK rocm-smi) ``--json`` output.

Real hy-smi output is not always valid JSON (TELEMETRY-FORMATS.md pitfall 1): BW drivers omit
the comma between consecutive ``"key": "value"`` pairs and repeat an empty ``"": ""`` key;
other flags splice text before or after the document. Repairs, tried in order until
``json.loads`` succeeds:

1. strict parse (duplicate keys are legal for ``json``: the last one wins);
2. insert the missing comma after a complete ``"k": "v"`` pair or a closing ``}`` that is
   directly followed by the next ``"key"``, and drop trailing commas before ``}``;
3. keep only the text from the first ``{`` to the last ``}`` and repeat 1-2.

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


def load_lenient(text: str, tool: str) -> tuple[Any, list[str]]:
    """Parse ``text`` as JSON, repairing what hy-smi is known to break; returns (doc, notes)."""
    if not text.strip():
        raise ParseError(f"{tool}: empty output, expected JSON")
    try:
        return json.loads(text), []
    except ValueError as exc:
        first_error = exc
    candidates = [("", text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end and (start > 0 or text[end + 1:].strip()):
        candidates.append(("; ignored text around the JSON object", text[start:end + 1]))
    for note, candidate in candidates:
        doc = _try(candidate) if note else _FAILED
        if doc is not _FAILED:
            return doc, [f"{tool}: repaired invalid JSON{note}"]
        fixed, count = _add_commas(candidate)
        doc = _try(fixed) if count else _FAILED
        if doc is not _FAILED:
            return doc, [f"{tool}: repaired invalid JSON: {count} missing/extra comma(s){note}"]
    raise ParseError(f"{tool}: output is not JSON and could not be repaired ({first_error})")
