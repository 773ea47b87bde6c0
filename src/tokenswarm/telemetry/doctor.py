"""``tokenswarm doctor``: is this host ready for a measured run, and if not, what to do.

Each check prints one ``ok``/``FAIL``/``skip`` line (plus detail lines such as one sample per
GPU) and every failure says how to fix it. A check counts only when it was asked for: GPU
tools always (auto mode needs at least one; ``--sources host`` skips them), the engine with
``--engine-url``, InfluxDB with an InfluxDB URL (flag, agent.yaml or environment), the target
with ``--host``. Exit status 0 when every asked-for check passed, 1 otherwise.
"""

from __future__ import annotations

import sys
from typing import TextIO

from tokenswarm.errors import UserError
from tokenswarm.telemetry import detect
from tokenswarm.telemetry.config import AgentConfig
from tokenswarm.telemetry.gpusource import REJECT_AFTER, GpuToolSource
from tokenswarm.telemetry.sample import GpuSample, HostSample
from tokenswarm.telemetry.source import PollResult
from tokenswarm.telemetry.sources.engine import EngineSource
from tokenswarm.telemetry.sources.host import HostSource

_GIB = 1024**3


def describe_gpu(sample: GpuSample) -> str:
    """``gpu 0  MI300X  util 12 %  power 120/750 W  vram 10.2/192.0 GiB  edge 45 C``."""
    f = sample.fields
    parts = [f"gpu {sample.index}", sample.model or "(no model name)"]
    if sample.uuid:
        parts.append(f"uuid {sample.uuid}")
    if "util_pct" in f:
        parts.append(f"util {f['util_pct']:g} %")
    if "power_w" in f:
        limit = f"/{f['power_limit_w']:g}" if "power_limit_w" in f else ""
        parts.append(f"power {f['power_w']:g}{limit} W")
    if "vram_used_bytes" in f and "vram_total_bytes" in f:
        parts.append(f"vram {f['vram_used_bytes'] / _GIB:.1f}/{f['vram_total_bytes'] / _GIB:.1f}"
                     " GiB")
    temps = [f"{k[5:-2]} {f[k]:g} C" for k in ("temp_edge_c", "temp_junction_c") if k in f]
    return "  ".join(parts + temps)


class Doctor:
    def __init__(self, cfg: AgentConfig, target: str | None, api_key: str = "",
                 out: TextIO = sys.stdout) -> None:
        self.cfg = cfg
        self.target = target
        self.api_key = api_key
        self.out = out
        self.problems: list[str] = []

    def line(self, status: str, what: str, detail: str = "") -> None:
        print(f"{status:<5} {what:<11} {detail}".rstrip(), file=self.out)
        if status == "FAIL":
            self.problems.append(f"{what}: {detail}")

    def run(self) -> int:
        self.check_gpus()
        self.check_host()
        self.check_engine()
        self.check_influx()
        self.check_target()
        if self.problems:
            print(f"\n{len(self.problems)} problem(s):", file=self.out)
            for problem in self.problems:
                print(f"  - {problem}", file=self.out)
            return 1
        print("\nall checks passed", file=self.out)
        return 0

    def _poll_tool(self, name: str, path: str) -> None:
        source = GpuToolSource(detect.tools()[name], path, self.cfg.tool_timeout_s)
        source.detect_version()
        result: PollResult = source.poll()
        # Poll on while a failing format may still be given up (the agent does the same over
        # its first polls), so the verdict is about the format the agent would end up with.
        for _ in range(REJECT_AFTER * len(source.modes())):
            if result.ok or result.timed_out or source.mode:
                break
            result = source.poll()
        if not result.ok:
            self.line("FAIL", name, f"{path}: {result.error} (check the tool runs by hand; "
                      f"send its output via `tokenswarm agent parse --tool {name} FILE`)")
            return
        self.line("ok", name, f"{source.describe().removeprefix(name + ' ')}, "
                  f"{len(result.samples)} device(s), "
                  f"{result.duration_s:.2f} s per call")
        for sample in result.samples:
            if isinstance(sample, GpuSample):
                print(f"{'':17} {describe_gpu(sample)}", file=self.out)
        if not result.samples:
            self.line("FAIL", name, "the tool ran but listed no device (driver loaded? "
                      "container without /dev/kfd, /dev/dri?)")

    def check_gpus(self) -> None:
        try:
            names = [n for n in detect.resolve_names(self.cfg) if n not in detect.OTHER_SOURCES]
        except UserError as exc:
            self.line("FAIL", "sources", str(exc))
            return
        specs = detect.tools()
        if not names and "auto" in self.cfg.sources:
            folders = sorted({d for spec in specs.values() for d in spec.search_dirs})
            self.line(
                "FAIL", "gpu tools",
                f"none of {', '.join(specs)} found on PATH or in {', '.join(folders)}: install "
                "the vendor tool, or set --tool-path NAME=PATH (agent.yaml: tool_paths), or "
                "pass --sources host to skip GPU checks",
            )
        for name in names:
            try:
                path = detect.find_binary(specs[name], self.cfg.tool_paths)
            except UserError as exc:
                self.line("FAIL", name, str(exc))
                continue
            if path is None:
                self.line("FAIL", name, detect.missing_message(specs[name]))
            else:
                self._poll_tool(name, path)

    def check_host(self) -> None:
        result = HostSource().poll()
        sample = result.samples[0]
        assert isinstance(sample, HostSample)
        f = sample.fields
        self.line("ok", "host", f"mem {f['mem_used_bytes'] / _GIB:.1f}/"
                  f"{f['mem_total_bytes'] / _GIB:.1f} GiB, load1 {f['load1']:.2f}")

    def check_engine(self) -> None:
        if not self.cfg.engine_url:
            self.line("skip", "engine", "no --engine-url")
            return
        source = EngineSource(self.cfg.engine_url, self.cfg.tool_timeout_s)
        result = source.poll()
        if not result.ok:
            self.line("FAIL", "engine", f"{result.error} (is the engine up and serving "
                      "Prometheus metrics? vLLM and SGLang do at /metrics)")
            return
        sample = result.samples[0]
        fields = " ".join(f"{k}={v}" for k, v in sample.fields.items())
        self.line("ok", "engine", f"{getattr(sample, 'engine', '')} {source.url}: {fields}")

    def check_influx(self) -> None:
        try:
            config = self.cfg.influx_config()
        except UserError as exc:
            self.line("FAIL", "influxdb", str(exc))
            return
        if config is None:
            self.line("skip", "influxdb", "no --influx-url (file sink only)")
            return
        from tokenswarm.influx.writer import InfluxWriter

        writer = InfluxWriter(config)
        try:
            version = writer.check()
        except UserError as exc:
            self.line("FAIL", "influxdb", str(exc))
            return
        finally:
            writer.close(0.1)
        self.line("ok", "influxdb", f"{config.base_url} version {version or 'unknown'}")

    def check_target(self) -> None:
        if not self.target:
            self.line("skip", "target", "no --host")
            return
        from tokenswarm.preflight import check_target

        try:
            target = check_target(self.target, api_key=self.api_key, timeout_s=5.0)
        except UserError as exc:
            self.line("FAIL", "target", str(exc))
            return
        self.line("ok", "target", f"{target.base_url} serves {', '.join(target.models)}")
