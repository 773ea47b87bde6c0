"""hy-smi: Hygon DCU (K100-AI, Z100, BW) telemetry tool, usually in /opt/hyhal/bin.

One JSON call per poll with the flag set from TELEMETRY-FORMATS.md 2.1. Some releases reject
``--showpower``/``--showclocks``/``--showmeminfo``: the agent then tries
:data:`JSON_ARGS_REDUCED` (identity and utilisation still come as JSON), and only when that is
refused too the default table (no flags, no identity), parsed by header names. Its JSON may
be invalid (repaired by :mod:`jsonfix`). ``--showdriverversion`` has no JSON mode and
is the version probe.
"""

from __future__ import annotations

import re

from tokenswarm.telemetry.sources import smifamily
from tokenswarm.telemetry.sources.base import ParseResult, ToolSpec, derived

NAME = "hy-smi"
VENDOR = "hygon"
JSON_ARGS = (
    "--showid", "--showproductname", "--showserial", "--showuniqueid", "--showbus",
    "--showuse", "--showmemuse", "--showmeminfo", "vram", "--showtemp", "--showpower",
    "--showclocks", "--json",
)
# TELEMETRY-FORMATS 2.1: the fallback set without --showpower/--showclocks/--showmeminfo.
JSON_ARGS_REDUCED = (
    "--showid", "--showproductname", "--showserial", "--showuniqueid", "--showbus",
    "--showuse", "--showmemuse", "--showtemp", "--json",
)
_VERSION = re.compile(r"driver version\s*:\s*(\S+)", re.IGNORECASE)


@derived
def parse_json(text: str) -> ParseResult:
    """``--json`` output (repaired if needed); raises ParseError when it is not JSON."""
    return smifamily.parse_json(NAME, VENDOR, text)


@derived
def parse_text(text: str) -> ParseResult:
    """Default table (``DCU``/``HCU`` header) and ``HCU[N] : key: value`` lines."""
    return smifamily.parse_text(NAME, VENDOR, text)


@derived
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
    json_args_reduced=JSON_ARGS_REDUCED,
    text_args=(),
    version_args=("--showdriverversion",),
    parse_json=parse_json,
    parse_text=parse_text,
    parse=parse,
    parse_version=parse_version,
)
