"""rocm-smi: AMD's tool, and DTK's Hygon-flavoured rocm-smi of the same name.

The vendor is decided from the output (``Card Vendor`` Haiguang/C-3000, ``DCU``/``HCU``/``vram``
keys, a ``DCU``/``HCU`` table header), never from the binary path: a DTK host may have both.
``--json`` is the poll format (a reduced flag set when the full one is refused); ``--csv``
output is understood too (``parse`` sniffs it); the
fallback is the concise table, parsed by header names (four layouts seen, see :mod:`table`).
"""

from __future__ import annotations

from tokenswarm.telemetry.sources import smifamily

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
SPEC = smifamily.make_spec(
    name=NAME,
    vendor="amd",
    fixed_vendor=None,  # DTK's rocm-smi reports Hygon cards: decided per output
    binaries=("rocm-smi",),
    search_dirs=("/opt/rocm/bin", "/opt/dtk/bin", "/opt/hyhal/bin", "/usr/local/bin", "/usr/bin"),
    json_args=JSON_ARGS,
    json_args_reduced=JSON_ARGS_REDUCED,
    version_args=("--showdriverversion",),
    # ``Driver version: 6.3.6`` (--showdriverversion) or ``ROCM-SMI version: x``
    version_pattern=r"(?:driver version|ROCM-SMI version)\s*:\s*(\S+)",
)
parse_json, parse_text, parse = SPEC.parse_json, SPEC.parse_text, SPEC.parse
parse_version = SPEC.parse_version
