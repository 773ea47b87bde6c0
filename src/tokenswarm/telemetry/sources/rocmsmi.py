"""rocm-smi: AMD's tool, and DTK's Hygon-flavoured rocm-smi of the same name.

The vendor is decided from the output (``Card Vendor`` Haiguang/C-3000, ``DCU``/``HCU``/``vram``
keys, a ``DCU``/``HCU`` table header), never from the binary path: a DTK host may have both.
``--json`` is the poll format (a reduced flag set when the full one is refused); ``--csv``
output is understood too (``parse`` sniffs it); the
fallback is the concise table, parsed by header names (four layouts seen, see :mod:`table`).
"""

from __future__ import annotations

import re

from tokenswarm.telemetry.sources import smifamily
from tokenswarm.telemetry.sources.base import ParseResult, ToolSpec, derived

NAME = "rocm-smi"
JSON_ARGS = (
    "--showid", "--showuniqueid", "--showserial", "--showbus", "--showproductname",
    "--showuse", "--showmemuse", "--showmeminfo", "vram", "--showpower", "--showmaxpower",
    "--showtemp", "--showclocks", "--showfan", "--json",
)
# Without the flags old/DTK builds are known to refuse or choke on (power, clocks, fan).
JSON_ARGS_REDUCED = (
    "--showid", "--showuniqueid", "--showserial", "--showbus", "--showproductname",
    "--showuse", "--showmemuse", "--showtemp", "--json",
)
_VERSION = re.compile(r"(?:driver version|ROCM-SMI version)\s*:\s*(\S+)", re.IGNORECASE)


@derived
def parse_json(text: str) -> ParseResult:
    """``--json`` output; raises ParseError when it is not JSON (e.g. ``No JSON data``)."""
    return smifamily.parse_json(NAME, None, text)


@derived
def parse_text(text: str) -> ParseResult:
    """Concise table and ``GPU[N] : key: value`` lines."""
    return smifamily.parse_text(NAME, None, text)


@derived
def parse(text: str) -> ParseResult:
    """Any rocm-smi output: JSON, ``--csv`` (``device,...`` header) or text."""
    return smifamily.sniff(NAME, None, text)


def parse_version(text: str) -> str | None:
    """``Driver version: 6.3.6`` (``--showdriverversion``) or ``ROCM-SMI version: x``."""
    match = _VERSION.search(text)
    return match.group(1) if match else None


SPEC = ToolSpec(
    name=NAME,
    vendor="amd",
    binaries=("rocm-smi",),
    search_dirs=("/opt/rocm/bin", "/opt/dtk/bin", "/opt/hyhal/bin", "/usr/local/bin", "/usr/bin"),
    json_args=JSON_ARGS,
    json_args_reduced=JSON_ARGS_REDUCED,
    text_args=(),
    version_args=("--showdriverversion",),
    parse_json=parse_json,
    parse_text=parse_text,
    parse=parse,
    parse_version=parse_version,
)
