"""Normalised telemetry samples and their InfluxDB points (DESIGN.md section 4).

Measurement and field names are registered in :mod:`tokenswarm.influx.schema` (units there).
A value the tool reports as N/A is absent from ``fields``,
never 0. Strings that change on driver upgrades (serial, driver version, device id) go into
``info`` (written as string fields), never into tags, so they do not split series; the PCI
address is written the same way (field ``pci_bus``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tokenswarm.influx import schema
from tokenswarm.influx.point import FieldValue, Point


@dataclass
class GpuSample:
    """One device at one poll. ``index`` is the tool's enumeration index as a string."""

    tool: str
    vendor: str  # hygon | amd | nvidia
    index: str
    uuid: str = ""
    model: str = ""
    pci_bus: str = ""
    fields: dict[str, float | int] = field(default_factory=dict)
    info: dict[str, str] = field(default_factory=dict)

    def derive(self) -> None:
        """Fill fields computable from others: ``vram_used_pct`` = used / total * 100 when the
        tool printed both byte counts but no percentage (TELEMETRY-FORMATS section 1)."""
        used = self.fields.get("vram_used_bytes")
        total = self.fields.get("vram_total_bytes")
        if "vram_used_pct" not in self.fields and used is not None and total:
            self.fields["vram_used_pct"] = round(100.0 * used / total, 2)

    def to_point(self, run_id: str, host: str, time_ns: int) -> Point:
        tags = {
            "run_id": run_id,
            "host": host,
            "gpu": self.index,
            "uuid": self.uuid,
            "model": self.model,
            "tool": self.tool,
            "vendor": self.vendor,
        }
        values: dict[str, FieldValue | None] = dict(self.fields)
        values.update(self.info)
        if self.pci_bus:  # a string field, not a tag: one more tag would only add cardinality
            values["pci_bus"] = self.pci_bus
        return Point(schema.GPU.name, tags, values, time_ns)


@dataclass
class HostSample:
    """CPU, memory and load of one host; ``role`` is ``gpu`` (agent) or ``loadgen``."""

    fields: dict[str, float | int] = field(default_factory=dict)
    role: str = "gpu"

    def to_point(self, run_id: str, host: str, time_ns: int) -> Point:
        return Point(schema.HOST.name, {"run_id": run_id, "host": host, "role": self.role},
                     dict(self.fields), time_ns)


@dataclass
class EngineSample:
    """The inference engine's own queue and KV-cache numbers, from its /metrics."""

    engine: str  # vllm | sglang
    fields: dict[str, float | int] = field(default_factory=dict)

    def to_point(self, run_id: str, host: str, time_ns: int) -> Point:
        return Point(schema.ENGINE.name, {"run_id": run_id, "host": host, "engine": self.engine},
                     dict(self.fields), time_ns)


Sample = GpuSample | HostSample | EngineSample
