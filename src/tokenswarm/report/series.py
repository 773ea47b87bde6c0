"""Per-request rows (requests.csv) -> the series the plots draw: output tokens per second over
the run, and latency distributions per stage.

Token arrival is reconstructed from each request's row: the first token at
``start + ttft``, the other ``output_tokens - 1`` spread evenly until ``start + e2e`` (the
row keeps no per-token stamps). Summed on a 100 ms grid, then per ``bucket_s``. This is a
picture of the run; the summary's exact throughput comes from the merged token time series.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

GRID_NS = 100_000_000
CDF_POINTS = 400
LINE_POINTS = 1500  # at most this many points per time-series line (long runs are averaged)
CDF_COLUMNS = ("ttft_ms", "tpot_ms", "itl_mean_ms", "e2e_ms")


def output_tokens_per_s(requests: pd.DataFrame, t0_ns: int, bucket_s: float = 1.0) -> pd.Series:
    """Output tokens/s per ``bucket_s`` bucket, indexed by bucket start (s since ``t0_ns``)."""
    rows = requests.dropna(subset=["ttft_ms", "e2e_ms", "output_tokens"])
    rows = rows[rows["output_tokens"] > 0]
    if rows.empty:
        return pd.Series(dtype=float)
    start = rows["start_unix_ns"].to_numpy(dtype=np.int64) - t0_ns
    first = (start + rows["ttft_ms"].to_numpy() * 1e6) // GRID_NS
    last = (start + rows["e2e_ms"].to_numpy() * 1e6) // GRID_NS
    first, last = first.astype(np.int64), np.maximum(last.astype(np.int64), first.astype(np.int64))
    tokens = rows["output_tokens"].to_numpy(dtype=float)
    offset = min(int(first.min()), 0)
    first, last = first - offset, last - offset
    size = int(last.max()) + 2
    point = np.zeros(size)
    np.add.at(point, first, np.where(last == first, tokens, 1.0))
    spread = last > first
    rate = np.zeros(size)  # difference array: (n-1)/(cells) per cell in (first, last]
    per_cell = (tokens[spread] - 1) / (last[spread] - first[spread])
    np.add.at(rate, first[spread] + 1, per_cell)
    np.add.at(rate, last[spread] + 1, -per_cell)
    cells = point + np.cumsum(rate)
    per_bucket = max(round(bucket_s * 1e9 / GRID_NS), 1)
    padded = np.pad(cells, (0, -len(cells) % per_bucket))
    sums = padded.reshape(-1, per_bucket).sum(axis=1) / bucket_s
    index = (np.arange(len(sums)) * per_bucket + offset) * GRID_NS / 1e9
    return pd.Series(sums, index=index)


def bucket_seconds(duration_s: float) -> float:
    """1 s buckets, or whole seconds coarse enough for at most LINE_POINTS buckets."""
    return float(max(1, math.ceil(duration_s / LINE_POINTS)))


def thin(t_s: pd.Series, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A sampled series with at most LINE_POINTS points: means over equal time bins when
    longer (keeps the SVG small for hour-long runs at 1 s sampling)."""
    df = pd.DataFrame({"t": t_s.to_numpy(), "v": values.to_numpy()}).dropna()
    if len(df) > LINE_POINTS:
        span = df["t"].max() - df["t"].min() or 1.0
        df = df.groupby(((df["t"] - df["t"].min()) / span * (LINE_POINTS - 1)).astype(int)).mean()
    return df["t"].to_numpy(), df["v"].to_numpy()


def measured(requests: pd.DataFrame) -> pd.DataFrame:
    """Successful requests measured for their stage (warm-up rows and transition rows, which
    lived through a stage change, excluded: the same requests as the stage's histograms); the
    ``stage`` column is added as 0 for a schema-1 run, which had one stage."""
    rows = requests
    if "phase" in rows:
        rows = rows[rows["phase"] == "measure"]
    if "stage" not in rows:
        rows = rows.assign(stage=0)
    return rows[(rows["status"] == "ok") & rows["stage"].notna()]


def cdf(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Empirical CDF at most CDF_POINTS points: nearest-rank quantiles on an even grid."""
    data = values.dropna().to_numpy(dtype=float)
    if data.size == 0:
        return np.array([]), np.array([])
    q = np.linspace(0.0, 1.0, min(CDF_POINTS, data.size + 1))
    return np.quantile(data, q, method="inverted_cdf"), q
