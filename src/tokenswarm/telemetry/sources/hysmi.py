"""hy-smi: Hygon DCU (K100-AI, Z100, BW) telemetry tool, usually in /opt/hyhal/bin.

One JSON call per poll with the flag set from TELEMETRY-FORMATS.md 2.1. Some releases reject
``--showpower``/``--showclocks``/``--showmeminfo``: the agent then tries
:data:`JSON_ARGS_REDUCED` (identity and utilisation still come as JSON), and only when that is
refused too the default table (no flags, no identity), parsed by header names. Its JSON may
be invalid (repaired by :mod:`jsonfix`). ``--showdriverversion`` has no JSON mode and
is the version probe.
"""

from __future__ import annotations

from tokenswarm.telemetry.sources import smifamily

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
SPEC = smifamily.make_spec(
    name=NAME,
    vendor=VENDOR,
    fixed_vendor=VENDOR,
    binaries=("hy-smi",),
    search_dirs=("/opt/hyhal/bin", "/opt/dtk/bin", "/usr/local/bin", "/usr/bin"),
    json_args=JSON_ARGS,
    json_args_reduced=JSON_ARGS_REDUCED,
    version_args=("--showdriverversion",),
    # ``Driver Version: 6.3.31-V1.5.0a`` from ``hy-smi --showdriverversion``
    version_pattern=r"driver version\s*:\s*(\S+)",
)
parse_json, parse_text, parse = SPEC.parse_json, SPEC.parse_text, SPEC.parse
parse_version = SPEC.parse_version
