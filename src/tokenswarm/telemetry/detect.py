"""Which sources to poll: auto-detected GPU tools or the list the user asked for.

A tool is looked up as configured (``tool_paths``), then on PATH, then in its usual install
folders (``hy-smi`` lives in ``/opt/hyhal/bin``, often not on PATH). Auto mode takes one AMD-
family tool (hy-smi, else rocm-smi, else amd-smi: on a DTK host hy-smi and the Hygon-flavoured
rocm-smi report the same cards, and polling both would duplicate every GPU) plus nvidia-smi.
A tool the user named but that cannot be found is a start-up error saying what to set; auto
mode that finds no GPU tool logs a warning (``--sources host`` says host-only is meant).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping

from tokenswarm.errors import UserError
from tokenswarm.telemetry.config import AgentConfig
from tokenswarm.telemetry.gpusource import GpuToolSource
from tokenswarm.telemetry.source import Source
from tokenswarm.telemetry.sources.base import ToolSpec
from tokenswarm.telemetry.sources.engine import EngineSource
from tokenswarm.telemetry.sources.host import HostSource

log = logging.getLogger("tokenswarm.agent")

AUTO_AMD_ORDER = ("hy-smi", "rocm-smi", "amd-smi")
OTHER_SOURCES = ("host", "engine")


def tools() -> dict[str, ToolSpec]:
    """The registered GPU tools (imported late: parsers are only needed once polling)."""
    from tokenswarm.telemetry.sources.registry import TOOLS

    return dict(TOOLS)


def find_binary(spec: ToolSpec, tool_paths: Mapping[str, str]) -> str | None:
    """Path of the tool's executable, or None. A configured path must exist."""
    configured = tool_paths.get(spec.name)
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise UserError(
                f"{spec.name}: {configured} is not an executable file "
                f"(fix --tool-path {spec.name}=PATH or tool_paths.{spec.name} in agent.yaml)"
            )
        return configured
    for binary in spec.binaries:
        found = shutil.which(binary)
        if found:
            return found
    for folder in spec.search_dirs:
        for binary in spec.binaries:
            path = os.path.join(folder, binary)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    return None


def missing_message(spec: ToolSpec) -> str:
    where = ", ".join(("PATH", *spec.search_dirs))
    example = os.path.join(spec.search_dirs[0] if spec.search_dirs else "/path/to",
                           spec.binaries[0])
    return (
        f"{spec.binaries[0]} not found (searched {where}): install it or set "
        f"--tool-path {spec.name}={example} (agent.yaml: tool_paths.{spec.name})"
    )


def found_tools(tool_paths: Mapping[str, str]) -> dict[str, str]:
    """Every registered tool that is present -> its path."""
    found = {}
    for name, spec in tools().items():
        path = find_binary(spec, tool_paths)
        if path:
            found[name] = path
    return found


def auto_tools(found: Mapping[str, str]) -> list[str]:
    """One AMD-family tool plus nvidia-smi, from those present (see module doc)."""
    chosen = [name for name in AUTO_AMD_ORDER if name in found][:1]
    chosen += [name for name in found if name not in AUTO_AMD_ORDER]
    return chosen


def resolve_names(cfg: AgentConfig) -> list[str]:
    """The configured source list with ``auto`` expanded; unknown names are an error."""
    specs = tools()
    names: list[str] = []
    for name in cfg.sources:
        if name == "auto":
            names += [*auto_tools(found_tools(cfg.tool_paths)), "host"]
            if cfg.engine_url:
                names.append("engine")
        elif name in specs or name in OTHER_SOURCES:
            names.append(name)
        else:
            known = ", ".join(["auto", *specs, *OTHER_SOURCES])
            raise UserError(f"unknown source {name!r} (known: {known})")
    return list(dict.fromkeys(names))


def build_sources(cfg: AgentConfig) -> list[Source]:
    """Sources to poll, in order; raises UserError for anything the user must fix."""
    specs = tools()
    sources: list[Source] = []
    names = resolve_names(cfg)
    if "auto" in cfg.sources and not any(name in specs for name in names):
        log.warning(
            "no GPU tool found (looked for %s on PATH, in %s and tool_paths): polling %s only; "
            "set --tool-path NAME=PATH if one is installed elsewhere, or --sources host to "
            "silence this warning", ", ".join(specs),
            ", ".join(sorted({d for spec in specs.values() for d in spec.search_dirs})),
            " and ".join(n for n in names if n in OTHER_SOURCES))
    for name in names:
        if name == "host":
            sources.append(HostSource())
        elif name == "engine":
            if not cfg.engine_url:
                raise UserError("source engine needs --engine-url (agent.yaml: engine_url), "
                                "e.g. http://127.0.0.1:8000")
            sources.append(EngineSource(cfg.engine_url, cfg.tool_timeout_s))
        else:
            spec = specs[name]
            path = find_binary(spec, cfg.tool_paths)
            if path is None:
                raise UserError(missing_message(spec))
            sources.append(GpuToolSource(spec, path, cfg.tool_timeout_s))
    return sources
