"""A simulated GPU driven by the simulated engine, printed as real ROCm 6.x ``rocm-smi --json``.

The demo and the tests need GPU telemetry that moves with the load, read by the unmodified
agent through the unmodified rocm-smi parser. Utilisation is the share of the last polling
period during which the engine had a running request (``busy_seconds`` growth in
``/sim/stats`` over the engine clock, like a real GPU's busy counter); power moves linearly
between idle and the board limit with it; VRAM holds the weights plus the KV cache in use.
The previous reading is kept in a small state file because every tool call is a new process.
Keys and value spellings follow the captured ROCm 6.x outputs (``rocm-smi_6.2.4_json_*``,
``rocm-smi_6.0.2_json_*``): strings, ``(1269Mhz)`` clocks, bytes for VRAM.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL = "AMD Instinct MI300X"
VRAM_TOTAL_B = 205_822_885_888
IDLE_W = 140.0
LIMIT_W = 750.0
WEIGHTS_SHARE = 0.40  # VRAM share of the model weights
KV_SHARE = 0.50  # VRAM share reserved for the KV cache (used as the engine reports it)


@dataclass(frozen=True)
class EngineState:
    """What the simulated GPU reads from ``/sim/stats``."""

    busy_seconds: float
    clock_seconds: float
    running: int
    kv_cache_usage: float


def utilisation(now: EngineState, before: EngineState | None) -> float:
    """Busy % over the period since ``before``; without one, 100 while a request runs."""
    if before is not None:
        period = now.clock_seconds - before.clock_seconds
        if 0 < period < 60:
            busy = (now.busy_seconds - before.busy_seconds) / period
            return max(0.0, min(100.0, busy * 100.0))
    return 100.0 if now.running else 0.0


def card(index: int, util: float, kv_usage: float) -> dict[str, str]:
    """One ``cardN`` object with ROCm 6.x keys and value formats."""
    load = util / 100.0
    used = int(VRAM_TOTAL_B * (WEIGHTS_SHARE + KV_SHARE * max(0.0, min(1.0, kv_usage))))
    edge = 38.0 + 32.0 * load + index * 0.5
    return {
        "Device Name": "Aqua Vanjaram [Instinct MI300X]",
        "Device ID": "0x74a1",
        "Device Rev": "0x00",
        "Subsystem ID": "0x74a1",
        "GUID": str(28851 + index),
        "Unique ID": f"0x{0x5c88007d76037400 + index:x}",
        "Temperature (Sensor edge) (C)": f"{edge:.1f}",
        "Temperature (Sensor junction) (C)": f"{edge + 9.0:.1f}",
        "Temperature (Sensor memory) (C)": f"{edge + 4.0:.1f}",
        "sclk clock speed:": f"({round(132 + (2100 - 132) * load)}Mhz)",
        "mclk clock speed:": "(1300Mhz)",
        "Max Graphics Package Power (W)": f"{LIMIT_W:.1f}",
        "Average Graphics Package Power (W)": f"{IDLE_W + (LIMIT_W - IDLE_W) * load:.1f}",
        "GPU use (%)": str(round(util)),
        "GPU Memory Allocated (VRAM%)": str(round(100.0 * used / VRAM_TOTAL_B)),
        "GPU Memory Read/Write Activity (%)": str(round(util * 0.6)),
        "Serial Number": f"692335000{index:03d}",
        "PCI Bus": f"0000:{0x0c + index * 0x10:02x}:00.0",
        "VRAM Total Memory (B)": str(VRAM_TOTAL_B),
        "VRAM Total Used Memory (B)": str(used),
        "Card Series": MODEL,
        "Card Model": "0x74a1",
        "Card Vendor": "Advanced Micro Devices, Inc. [AMD/ATI]",
        "Card SKU": "M3000100",
        "Node ID": str(2 + index),
        "GFX Version": "gfx942",
    }


def document(cards: int, util: float, kv_usage: float) -> dict[str, Any]:
    """The whole ``rocm-smi --json`` object (cards plus ``system``)."""
    doc: dict[str, Any] = {f"card{i}": card(i, util, kv_usage) for i in range(cards)}
    doc["system"] = {"Driver version": "6.8.5"}
    return doc


def text(doc: dict[str, Any]) -> str:
    """``GPU[N]\t\t: key: value`` lines, the non-JSON form of the same readings."""
    lines = []
    for name, values in doc.items():
        if name.startswith("card"):
            lines += [f"GPU[{name[4:]}]\t\t: {k.rstrip(':')}: {v}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def load_state(path: Path) -> EngineState | None:
    try:
        return EngineState(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def save_state(path: Path, state: EngineState) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.__dict__))
    tmp.replace(path)
