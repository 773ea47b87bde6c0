"""A GPU tool (hy-smi, rocm-smi, amd-smi, nvidia-smi) as an agent source.

The tool module gives a :class:`ToolSpec` (arguments, pure parsers); this class runs it. JSON is
tried first because it is the stable format; a tool that rejects the JSON flags (old hy-smi
exits non-zero on unknown flags) or prints JSON that cannot be repaired falls back to the text
arguments. The format that worked is remembered so a poll costs one call. Parser warnings are
logged once each, with a request for the output that caused them: real tools drift (DESIGN.md
section 5) and a captured sample is what lets the parser catch up.
"""

from __future__ import annotations

import logging
import time

from tokenswarm.telemetry.runner import run_command
from tokenswarm.telemetry.source import LogOnce, PollResult
from tokenswarm.telemetry.sources.base import ParseError, Parser, ToolSpec

log = logging.getLogger("tokenswarm.agent")


class GpuToolSource:
    """Polls one GPU tool binary; counts timeouts; never raises for tool-side failures."""

    def __init__(self, spec: ToolSpec, binary: str, timeout_s: float) -> None:
        self.spec = spec
        self.name = spec.name
        self.binary = binary
        self.timeout_s = timeout_s
        self.mode = ""  # "json" or "text" once one has worked
        self.version: str | None = None
        self.timeouts = 0
        self._once = LogOnce()

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

    def _attempts(self) -> list[tuple[str, tuple[str, ...], Parser]]:
        spec = self.spec
        modes = [
            ("json", spec.json_args, spec.parse_json),
            ("text", spec.text_args, spec.parse_text),
        ]
        usable = [m for m in modes if m[1] or m[0] == "text"]
        return [m for m in usable if m[0] == self.mode] if self.mode else usable

    def poll(self) -> PollResult:
        start = time.monotonic()
        errors: list[str] = []
        for mode, args, parser in self._attempts():
            res = run_command([self.binary, *args], self.timeout_s)
            if res.timed_out:
                # Never retry with the other format: that would double the stall.
                self.timeouts += 1
                return PollResult(ok=False, error=f"{self.name} {res.why()}", timed_out=True,
                                  duration_s=time.monotonic() - start)
            if res.returncode != 0:
                errors.append(f"{mode} call failed, {res.why()}")
                continue
            try:
                parsed = parser(res.stdout)
            except ParseError as exc:
                errors.append(f"{mode} output not understood: {exc}")
                self._ask_for_sample(f"cannot parse {mode} output: {exc}", args)
                continue
            for warning in parsed.warnings:
                self._ask_for_sample(warning, args)
            if not parsed.samples:
                # Not remembered as the working format: garbage once must not pin it.
                errors.append(f"{mode} output lists no device")
                continue
            if not self.mode:
                self.mode = mode
                log.info("%s: using %s output (%s)", self.name, mode, " ".join(args))
            if parsed.version and not self.version:
                self.version = parsed.version
            return PollResult(samples=list(parsed.samples), warnings=len(parsed.warnings),
                              duration_s=time.monotonic() - start)
        return PollResult(ok=False, error=f"{self.name}: " + "; ".join(errors),
                          duration_s=time.monotonic() - start)

    def _ask_for_sample(self, message: str, args: tuple[str, ...]) -> None:
        if self._once.first(message):
            log.warning(
                "%s: %s (logged once). Please send a sample: run `%s %s > sample.txt`, check "
                "`tokenswarm agent parse --tool %s sample.txt` and attach both to an issue",
                self.name, message, self.binary, " ".join(args), self.name,
            )
