"""GPU and engine telemetry of a run -> per-stage statistics.

Input is what the telemetry agent stores (``results/<run_id>/telemetry.jsonl``, one InfluxDB
point per line: ``{"measurement", "tags", "fields", "time_ns"}``; or the same points queried
from InfluxDB, see ``influx_source``). A GPU series is one ``(host, gpu)`` tag pair. A field the
tool printed as N/A is absent from the point, so every statistic only uses the samples that
carry it.

:func:`gpu_stage_stats` is what the sweep calls to fill each stage's ``gpu`` block of
summary.json; the report uses the same :func:`stage_gpu_stats` when a summary lacks it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TELEMETRY_FILE = "telemetry.jsonl"


@dataclass
class Telemetry:
    """Samples as long frames: ``time_ns``, ``series`` ("host/gpu" or "host/engine") + fields."""

    gpu: pd.DataFrame
    engine: pd.DataFrame
    bad_lines: int = 0

    @property
    def empty(self) -> bool:
        return self.gpu.empty and self.engine.empty


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> a frame sorted by time (an empty frame still has the key columns)."""
    df = pd.DataFrame(rows, columns=None if rows else ["time_ns", "series"])
    return df.sort_values("time_ns", kind="stable").reset_index(drop=True)


def from_points(points: list[dict[str, Any]], bad_lines: int = 0) -> Telemetry:
    """Point dicts (the file sink's objects) -> :class:`Telemetry` (gpu and engine points)."""
    rows: dict[str, list[dict[str, Any]]] = {"gpu": [], "engine": []}
    for point in points:
        measurement = point.get("measurement")
        if measurement not in rows:
            continue
        tags = point.get("tags", {})
        name = tags.get("gpu") if measurement == "gpu" else tags.get("engine", "engine")
        numeric = {
            k: float(v)
            for k, v in point.get("fields", {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        rows[measurement].append(
            {
                "time_ns": int(point["time_ns"]),
                "series": f"{tags.get('host', '')}/{name}",
                **numeric,
            }
        )
    return Telemetry(frame(rows["gpu"]), frame(rows["engine"]), bad_lines)


def read_file(path: Path) -> Telemetry | None:
    """``telemetry.jsonl`` -> :class:`Telemetry`; None when the file is absent. Lines that do not
    parse (a crash mid-write leaves at most one) are counted, not fatal."""
    if not path.is_file():
        return None
    points, bad = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            point = json.loads(line)
            int(point["time_ns"])
        except (ValueError, KeyError, TypeError):
            bad += bool(line.strip())
            continue
        points.append(point)
    return from_points(points, bad)


def _in_window(df: pd.DataFrame, start_ns: int, end_ns: int) -> pd.DataFrame:
    """Samples taken in ``[start, end)``, like the stage windows themselves."""
    return df[(df["time_ns"] >= start_ns) & (df["time_ns"] < end_ns)]


def _series_energy_j(t_ns: np.ndarray, power_w: np.ndarray, start_ns: int, end_ns: int) -> float:
    """Trapezoid integral of one GPU's power over ``[start, end]``: the in-window samples plus
    values linearly interpolated at both edges (held constant past the first/last sample)."""
    inside = (t_ns > start_ns) & (t_ns < end_ns)
    rel = (t_ns - start_ns) / 1e9
    span = (end_ns - start_ns) / 1e9
    t = np.concatenate(([0.0], rel[inside], [span]))
    p = np.concatenate(
        ([np.interp(0.0, rel, power_w)], power_w[inside], [np.interp(span, rel, power_w)])
    )
    return float(np.sum((p[1:] + p[:-1]) / 2 * np.diff(t)))


def _mean_of_series_means(df: pd.DataFrame, field: str) -> float | None:
    if field not in df or df[field].notna().sum() == 0:
        return None
    return float(df.groupby("series")[field].mean().mean())


def stage_gpu_stats(
    gpu: pd.DataFrame, start_ns: int, end_ns: int, output_tokens: float
) -> dict[str, Any] | None:
    """One stage's ``gpu`` block; None when no GPU sample falls inside the window.

    - ``util_pct``, ``vram_used_pct``: mean of each GPU's in-window samples, averaged over GPUs;
    - ``energy_j``: sum over GPUs of the trapezoid integral of ``power_w`` over the window
      (= the integral of the summed power), edges interpolated (see ``_series_energy_j``);
    - ``power_w`` = energy_j / window seconds: the time-mean of the power summed over GPUs;
    - ``tokens_per_joule`` = output_tokens / energy_j (output tokens of the stage's window);
    - ``temp_max_c``: hottest ``temp_*_c`` reading of any GPU in the window;
    - ``samples``: GPU points in the window; ``gpus``: distinct (host, gpu) series among them.
    Power-derived values are None when no GPU reported power (the tool printed N/A).
    """
    window = _in_window(gpu, start_ns, end_ns)
    if window.empty:
        return None
    energy = None
    if "power_w" in window and window["power_w"].notna().any():
        energy = 0.0
        for name in window.loc[window["power_w"].notna(), "series"].unique():
            series = gpu[(gpu["series"] == name) & gpu["power_w"].notna()]
            energy += _series_energy_j(
                series["time_ns"].to_numpy(), series["power_w"].to_numpy(), start_ns, end_ns
            )
    seconds = max(end_ns - start_ns, 1) / 1e9
    temps = [c for c in window.columns if c.startswith("temp_") and c.endswith("_c")]
    temp_max = window[temps].max().max() if temps else np.nan
    return {
        "util_pct": _mean_of_series_means(window, "util_pct"),
        "power_w": None if energy is None else energy / seconds,
        "energy_j": energy,
        "tokens_per_joule": output_tokens / energy if energy else None,
        "vram_used_pct": _mean_of_series_means(window, "vram_used_pct"),
        "temp_max_c": None if pd.isna(temp_max) else float(temp_max),
        "samples": len(window),
        "gpus": int(window["series"].nunique()),
    }


def stage_engine_stats(engine: pd.DataFrame, start_ns: int, end_ns: int) -> dict[str, Any] | None:
    """The engine's own queue and KV-cache gauges over a stage window (max and mean)."""
    window = _in_window(engine, start_ns, end_ns)
    if window.empty:
        return None
    stats: dict[str, Any] = {}
    for field in ("kv_cache_usage_pct", "requests_waiting", "requests_running"):
        if field in window and window[field].notna().any():
            stats[f"{field}_max"] = float(window[field].max())
            stats[f"{field}_mean"] = float(window[field].mean())
    return stats or None


def gpu_stage_stats(
    run_dir: Path, windows: list[tuple[int, int]], output_tokens: list[float]
) -> list[dict[str, Any] | None]:
    """Each stage's ``gpu`` block from ``run_dir/telemetry.jsonl`` (None per stage without GPU
    samples, all None without the file). ``windows`` are wall-clock ns ``(start, end)`` and
    ``output_tokens`` the output tokens counted in each window (output_tps * seconds)."""
    telemetry = read_file(Path(run_dir) / TELEMETRY_FILE)
    if telemetry is None or telemetry.gpu.empty:
        return [None] * len(windows)
    return [
        stage_gpu_stats(telemetry.gpu, start, end, tokens)
        for (start, end), tokens in zip(windows, output_tokens, strict=True)
    ]
