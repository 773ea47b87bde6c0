"""hy-smi: Hygon DCU (K100-AI, Z100, BW) telemetry tool, usually in /opt/hyhal/bin.

One JSON call per poll with the flag set from TELEMETRY-FORMATS.md 2.1. Its JSON may be
invalid (repaired by :mod:`jsonfix`); when it cannot be repaired the agent falls back to the
default table (no flags), parsed by header names. ``--showdriverversion`` has no JSON mode and
is the version probe.
"""

from __future__ import annotations

import re

from tokenswarm.telemetry.sources import smifamily
from tokenswarm.telemetry.sources.base import ParseResult, ToolSpec

NAME = "hy-smi"
VENDOR = "hygon"
JSON_ARGS = (
    "--showid", "--showproductname", "--showserial", "--showuniqueid", "--showbus",
    "--showuse", "--showmemuse", "--showmeminfo", "vram", "--showtemp", "--showpower",
    "--showclocks", "--json",
)
_VERSION = re.compile(r"driver version\s*:\s*(\S+)", re.IGNORECASE)


def parse_json(text: str) -> ParseResult:
    """``--json`` output (repaired if needed); raises ParseError when it is not JSON."""
    return smifamily.parse_json(NAME, VENDOR, text)


def parse_text(text: str) -> ParseResult:
    """Default table (``DCU``/``HCU`` header) and ``HCU[N] : key: value`` lines."""
    return smifamily.parse_text(NAME, VENDOR, text)


def parse(text: str) -> ParseResult:
    """Any hy-smi output: JSON when it starts with ``{``, text otherwise."""
    return smifamily.sniff(NAME, VENDOR, text)


def parse_version(text: str) -> str | None:
    """``Driver Version: 6.3.31-V1.5.0a`` from ``hy-smi --showdriverversion``."""
    match = _VERSION.search(text)
    return match.group(1) if match else None


SPEC = ToolSpec(
    name=NAME,
    vendor=VENDOR,
    binaries=("hy-smi",),
    search_dirs=("/opt/hyhal/bin", "/opt/dtk/bin", "/usr/local/bin", "/usr/bin"),
    json_args=JSON_ARGS,
    text_args=(),
    version_args=("--showdriverversion",),
    parse_json=parse_json,
    parse_text=parse_text,
    parse=parse,
    parse_version=parse_version,
)
