"""The contract between GPU tool modules, the agent loop and ``tokenswarm agent parse``.

Running a tool is kept apart from parsing its output: each tool module declares a
:class:`ToolSpec` (binary names, folders to search, argument sets, pure parse functions) and
the agent runs it. Parse functions are pure: text in, :class:`ParseResult` out, no I/O, so every
captured output in ``shared/fixtures/telemetry`` can be replayed through them.
"""

from __future__ import annotations

import functools
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
# Pure join of a second, rarely changing capture (amd-smi ``static --json``: serial, bus, board,
# power limit) into the samples of one poll: (samples, static output) -> warnings.
StaticMerger = Callable[[list[GpuSample], str], list[str]]


def derived(parser: Parser) -> Parser:
    """Wrap a parse function so every sample gets the fields derived from others
    (:meth:`GpuSample.derive`: ``vram_used_pct`` from used/total when the tool has no %)."""

    @functools.wraps(parser)
    def wrapper(text: str) -> ParseResult:
        result = parser(text)
        for sample in result.samples:
            sample.derive()
        return result

    return wrapper


@dataclass(frozen=True)
class ToolSpec:
    """How to find, run and parse one GPU tool.

    ``json_args`` is tried first. When the tool rejects them (a usage error, or the same
    failure on several consecutive polls before they ever worked), ``json_args_reduced`` (a
    smaller JSON flag set some older releases accept, parsed by ``parse_json``) is tried, then
    ``text_args`` parsed by ``parse_text``; the agent remembers which one works. ``parse``
    sniffs the format itself (used by ``tokenswarm agent parse``). ``static_args``: a second
    call made at start-up and rarely after (identity, power limit), joined into each poll's
    samples by ``merge_static``.
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
    json_args_reduced: tuple[str, ...] = ()
    static_args: tuple[str, ...] = ()
    merge_static: StaticMerger | None = None
