"""All GPU tools the agent knows, by the name users type (``--tool hy-smi``).

The agent walks :data:`TOOLS` in this order when auto-detecting: hy-smi first because a DTK
host also has a ``rocm-smi`` that reports the same Hygon cards with fewer keys.
"""

from __future__ import annotations

from tokenswarm.telemetry.sources import amdsmi, hysmi, nvidiasmi, rocmsmi
from tokenswarm.telemetry.sources.base import ToolSpec

TOOLS: dict[str, ToolSpec] = {
    spec.name: spec for spec in (hysmi.SPEC, rocmsmi.SPEC, amdsmi.SPEC, nvidiasmi.SPEC)
}


def get_tool(name: str) -> ToolSpec:
    """The ToolSpec called ``name``; KeyError naming the known tools otherwise."""
    try:
        return TOOLS[name]
    except KeyError:
        raise KeyError(f"unknown GPU tool {name!r}; known: {', '.join(TOOLS)}") from None
