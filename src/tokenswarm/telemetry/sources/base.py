"""The contract between GPU tool modules, the agent loop and ``tokenswarm agent parse``.

Running a tool is kept apart from parsing its output: each tool module declares a
:class:`ToolSpec` (binary names, folders to search, argument sets, pure parse functions) and
the agent runs it. Parse functions are pure: text in, :class:`ParseResult` out, no I/O, so every
captured output in ``shared/fixtures/telemetry`` can be replayed through them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tokenswarm.telemetry.sample import GpuSample


class ParseError(ValueError):
    """The output is not in the expected format at all (e.g. JSON that cannot be repaired)."""


@dataclass
class ParseResult:
    """Normalised samples of one tool output, plus what the parser noticed.

    ``warnings``: unknown keys/layouts, repaired JSON, unparsable values (the agent logs each
    distinct warning once and asks for a sample). ``version``: the tool or driver version when
    the output says it.
    """

    samples: list[GpuSample] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    version: str | None = None


Parser = Callable[[str], ParseResult]


@dataclass(frozen=True)
class ToolSpec:
    """How to find, run and parse one GPU tool.

    ``json_args`` is tried first; when its output raises ParseError (or the tool rejects the
    flags with a non-zero exit), the agent falls back to ``text_args`` parsed by
    ``parse_text``. ``parse`` sniffs the format itself (used by ``tokenswarm agent parse``).
    """

    name: str  # "hy-smi", "rocm-smi", "amd-smi", "nvidia-smi"
    vendor: str  # "hygon", "amd", "nvidia" (rocm-smi: decided per output, DTK is hygon)
    binaries: tuple[str, ...]
    search_dirs: tuple[str, ...]
    json_args: tuple[str, ...]
    text_args: tuple[str, ...]
    version_args: tuple[str, ...]
    parse_json: Parser
    parse_text: Parser
    parse: Parser
    parse_version: Callable[[str], str | None]
