"""A GPU tool (hy-smi, rocm-smi, amd-smi, nvidia-smi) as an agent source.

The tool module gives a :class:`ToolSpec` (arguments, pure parsers); this class runs it.

Formats, in order: the full JSON flag set, a reduced JSON flag set (hy-smi releases that reject
``--showpower``/``--showclocks``/``--showmeminfo``, TELEMETRY-FORMATS 2.1), then the text
output. The first one that yields devices is remembered, so a poll costs one call. A format is
given up only when the tool really rejects it:

* a usage error (``unrecognized arguments``, ``unknown option``, ``not a valid field`` ...):
  the next format is tried at once;
* before the format ever worked, the same failure (exit status and message, or unparsable
  output) on :data:`REJECT_AFTER` consecutive polls.

Any other failure (``device busy`` once, a garbled output) fails only that poll; the agent
logs it and the next poll uses the same format again. Device identity (``uuid``/``model``
tags) is remembered per index from the first poll that had it, so it never changes mid-run
(a format change would otherwise split every series).

Tools with ``static_args`` (amd-smi: ``static --json`` holds serial, PCI bus, board name and
power limit, which ``metric`` lacks) get that second call on the first poll and every
:data:`STATIC_REFRESH_S` after (every :data:`STATIC_RETRY_S` while it fails); its last good
output is joined into each poll's samples by the spec's pure ``merge_static``.

Parser warnings are logged once each, with a request for the output that caused them: real
tools drift (DESIGN.md section 5) and a captured sample is what lets the parser catch up.
"""

from __future__ import annotations

import logging
import re
import time
from typing import NamedTuple

from tokenswarm.telemetry.runner import CommandResult, run_command
from tokenswarm.telemetry.sample import GpuSample
from tokenswarm.telemetry.source import LogOnce, PollResult
from tokenswarm.telemetry.sources.base import ParseError, Parser, ToolSpec

log = logging.getLogger("tokenswarm.agent")

# Consecutive identical failures of a format that never worked before it is given up.
REJECT_AFTER = 3
STATIC_REFRESH_S = 600.0
STATIC_RETRY_S = 30.0
# What tools print when they refuse a flag (argparse, getopt, nvidia-smi's query check).
USAGE_ERROR = re.compile(
    r"unrecogni[sz]ed (?:argument|option)|unknown (?:option|flag|argument)|invalid option"
    r"|invalid choice|no such option|illegal option|not a valid field|^\s*usage:",
    re.IGNORECASE | re.MULTILINE,
)


class Mode(NamedTuple):
    name: str  # "json", "json-reduced", "text"
    args: tuple[str, ...]
    parser: Parser


class GpuToolSource:
    """Polls one GPU tool binary; counts timeouts; never raises for tool-side failures."""

    def __init__(self, spec: ToolSpec, binary: str, timeout_s: float) -> None:
        self.spec = spec
        self.name = spec.name
        self.binary = binary
        self.timeout_s = timeout_s
        self.mode = ""  # name of the format that worked (pinned)
        self.rejected: set[str] = set()  # formats the tool refused
        self.version: str | None = None
        self.timeouts = 0
        self._once = LogOnce()
        self._streak: tuple[str, str, int] = ("", "", 0)  # (mode, failure, count)
        self._identity: dict[str, tuple[str, str]] = {}  # index -> (uuid, model)
        self._static: str | None = None
        self._static_due = 0.0

    def detect_version(self) -> str | None:
        """Run the version arguments once (a failure only means "unknown")."""
        if not self.spec.version_args:
            return None
        res = run_command([self.binary, *self.spec.version_args], self.timeout_s)
        if res.timed_out:
            self.timeouts += 1
        if res.returncode == 0:
            try:
                self.version = self.spec.parse_version(res.stdout + res.stderr)
            except ParseError:
                self.version = None
        return self.version

    def describe(self) -> str:
        version = self.version or "version unknown"
        mode = f", {self.mode} output" if self.mode else ""
        return f"{self.name} {self.binary} ({version}{mode})"

    def modes(self) -> list[Mode]:
        """Every format of this tool, in the order they are tried."""
        spec = self.spec
        modes = [Mode("json", spec.json_args, spec.parse_json)]
        if spec.json_args_reduced:
            modes.append(Mode("json-reduced", spec.json_args_reduced, spec.parse_json))
        modes.append(Mode("text", spec.text_args, spec.parse_text))
        return [m for m in modes if m.args or m.name == "text"]

    def _current(self) -> Mode:
        modes = self.modes()
        if self.mode:
            return next(m for m in modes if m.name == self.mode)
        usable = [m for m in modes if m.name not in self.rejected]
        return usable[0] if usable else modes[-1]

    def _reject(self, mode: Mode, why: str) -> bool:
        """Give ``mode`` up for the rest of the run; False when it is the last format."""
        if mode.name == self.modes()[-1].name:
            return False
        self.rejected.add(mode.name)
        if self.mode == mode.name:
            self.mode = ""
        nxt = self._current()
        log.warning("%s: %s output given up (%s): %s; trying %s output (%s) next",
                    self.name, mode.name, " ".join(mode.args), why, nxt.name,
                    " ".join(nxt.args) or "no arguments")
        return True

    def poll(self) -> PollResult:
        start = time.monotonic()
        while True:
            mode = self._current()
            res = run_command([self.binary, *mode.args], self.timeout_s)
            if res.timed_out:
                # Never retry with another format: that would double the stall.
                self.timeouts += 1
                return PollResult(ok=False, error=f"{self.name} {res.why()}", timed_out=True,
                                  duration_s=time.monotonic() - start)
            refused = res.returncode != 0 and USAGE_ERROR.search(res.stderr + "\n" + res.stdout)
            if refused and self._reject(mode, f"the tool refused the arguments, {res.why()}"):
                continue  # a definite answer: try the next format in this same poll
            samples, warnings, failure = self._parse(mode, res)
            if failure:
                return self._failed(mode, failure, start)
            break
        self._streak = ("", "", 0)
        if not self.mode:
            self.mode = mode.name
            log.info("%s: using %s output (%s)", self.name, mode.name,
                     " ".join(mode.args) or "no arguments")
        warnings += self._join_static(samples)
        self._keep_identity(samples)
        return PollResult(samples=list(samples), warnings=warnings,
                          duration_s=time.monotonic() - start)

    def _parse(self, mode: Mode, res: CommandResult) -> tuple[list[GpuSample], int, str]:
        """(samples, warning count, failure message or "")."""
        if res.returncode != 0:
            return [], 0, f"{mode.name} call failed, {res.why()}"
        try:
            parsed = mode.parser(res.stdout)
        except ParseError as exc:
            self._ask_for_sample(f"cannot parse {mode.name} output: {exc}", mode.args)
            return [], 0, f"{mode.name} output not understood: {exc}"
        for warning in parsed.warnings:
            self._ask_for_sample(warning, mode.args)
        if parsed.version and not self.version:
            self.version = parsed.version
        if not parsed.samples:
            return [], len(parsed.warnings), f"{mode.name} output lists no device"
        return list(parsed.samples), len(parsed.warnings), ""

    def _failed(self, mode: Mode, failure: str, start: float) -> PollResult:
        """One failed poll; a format that never worked and fails the same way
        :data:`REJECT_AFTER` times in a row is given up (the next poll tries the next one)."""
        last_mode, last_failure, count = self._streak
        count = count + 1 if (last_mode, last_failure) == (mode.name, failure) else 1
        self._streak = (mode.name, failure, count)
        if not self.mode and count >= REJECT_AFTER and self._reject(
                mode, f"failed the same way {count} polls in a row ({failure})"):
            self._streak = ("", "", 0)
        return PollResult(ok=False, error=f"{self.name}: {failure}",
                          duration_s=time.monotonic() - start)

    def _join_static(self, samples: list[GpuSample]) -> int:
        """Refresh the static capture when due and join it into ``samples``; warning count."""
        merge = self.spec.merge_static
        if not self.spec.static_args or merge is None:
            return 0
        now = time.monotonic()
        if now >= self._static_due:
            args = self.spec.static_args
            res = run_command([self.binary, *args], self.timeout_s)
            if res.timed_out:
                self.timeouts += 1
            if res.returncode == 0 and res.stdout.strip():
                self._static = res.stdout
                self._static_due = now + STATIC_REFRESH_S
            else:
                self._static_due = now + STATIC_RETRY_S
                if self._once.first(f"static failed: {res.why()}"):
                    log.warning("%s: `%s %s` failed (%s): no serial/PCI bus/power limit until "
                                "it works (retried every %.0f s)", self.name, self.binary,
                                " ".join(args), res.why(), STATIC_RETRY_S)
        if self._static is None:
            return 0
        warnings = merge(samples, self._static)
        for warning in warnings:
            self._ask_for_sample(warning, self.spec.static_args)
        return len(warnings)

    def _keep_identity(self, samples: list[GpuSample]) -> None:
        """``uuid``/``model`` tags stay what the first poll that had them said."""
        for sample in samples:
            uuid, model = self._identity.get(sample.index, ("", ""))
            if uuid and sample.uuid != uuid and self._once.first(f"uuid {sample.index}"):
                log.warning("%s: gpu %s now reports uuid %r (was %r); keeping the first one so "
                            "its series do not split", self.name, sample.index, sample.uuid,
                            uuid)
            sample.uuid = uuid or sample.uuid
            sample.model = model or sample.model
            self._identity[sample.index] = (sample.uuid, sample.model)

    def _ask_for_sample(self, message: str, args: tuple[str, ...]) -> None:
        if self._once.first(message):
            log.warning(
                "%s: %s (logged once). Please send a sample: run `%s %s > sample.txt`, check "
                "`tokenswarm agent parse --tool %s sample.txt` and attach both to an issue",
                self.name, message, self.binary, " ".join(args), self.name,
            )
