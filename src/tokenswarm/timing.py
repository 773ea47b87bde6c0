"""Per-request timing: raw ``perf_counter_ns`` stamps -> the metrics of DESIGN.md section 3.

Formulas (t_send = just before the request is written; t_i = arrival of token chunk i):

- ``ttft_ms  = t_0 - t_send``
- ``e2e_ms   = t_last - t_send``
- ``tpot_ms  = (t_last - t_0) / (output_tokens - 1)`` (None for fewer than 2 tokens)
- ``chunk_gap_ms_i = t_i - t_{i-1}`` (vLLM's pooled "ITL": one sample per chunk)
- ``itl_ms``: each chunk gap divided evenly over the tokens that chunk carried, one sample per
  token. Tokens per chunk come from the cumulative ``usage.completion_tokens`` that vLLM sends in
  every chunk with ``continuous_usage_stats``; without it, the first chunk is taken to carry one
  token (servers flush the first token at once) and the other ``output_tokens - 1`` are spread
  evenly over the remaining chunks. With one token per chunk, ``itl_ms == chunk_gap_ms``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

NS_PER_MS = 1_000_000.0


@dataclass(frozen=True, slots=True)
class DerivedTiming:
    """Metrics of one successful stream. ``itl`` is a list of (value_ms, token_count) pairs."""

    ttft_ms: float
    e2e_ms: float
    tpot_ms: float | None
    itl: list[tuple[float, int]]
    chunk_gaps_ms: list[float]
    itl_source: str

    @property
    def itl_mean_ms(self) -> float | None:
        n = sum(count for _, count in self.itl)
        return sum(v * count for v, count in self.itl) / n if n else None

    @property
    def itl_max_ms(self) -> float | None:
        return max((v for v, count in self.itl if count), default=None)


def derive_timing(
    t_send_ns: int,
    chunk_ns: Sequence[int],
    output_tokens: int,
    chunk_cumulative_tokens: Sequence[int] | None = None,
) -> DerivedTiming:
    """Derive the request's metrics; ``chunk_ns`` must hold at least one token chunk.

    ``chunk_cumulative_tokens``, when given, has one cumulative completion-token count per
    token chunk (from continuous usage stats).
    """
    first, last = chunk_ns[0], chunk_ns[-1]
    ttft_ms = (first - t_send_ns) / NS_PER_MS
    e2e_ms = (last - t_send_ns) / NS_PER_MS
    tpot_ms = (last - first) / NS_PER_MS / (output_tokens - 1) if output_tokens > 1 else None
    gaps = [(chunk_ns[i] - chunk_ns[i - 1]) / NS_PER_MS for i in range(1, len(chunk_ns))]
    exact = chunk_cumulative_tokens is not None and len(chunk_cumulative_tokens) == len(chunk_ns)
    if exact:
        assert chunk_cumulative_tokens is not None
        itl = _itl_from_counts(gaps, chunk_cumulative_tokens)
        source = "usage"
    else:
        itl = _itl_spread(gaps, output_tokens)
        source = "spread"
    return DerivedTiming(ttft_ms, e2e_ms, tpot_ms, itl, gaps, source)


def _itl_from_counts(gaps: list[float], cumulative: Sequence[int]) -> list[tuple[float, int]]:
    itl = []
    for i, gap in enumerate(gaps, start=1):
        tokens = max(1, cumulative[i] - cumulative[i - 1])
        itl.append((gap / tokens, tokens))
    return itl


def _itl_spread(gaps: list[float], output_tokens: int) -> list[tuple[float, int]]:
    """Spread ``output_tokens - 1`` tokens evenly over the gaps; counts by cumulative rounding."""
    if not gaps or output_tokens <= 1:
        return []
    per_chunk = (output_tokens - 1) / len(gaps)
    itl = []
    for i, gap in enumerate(gaps, start=1):
        count = round(i * per_chunk) - round((i - 1) * per_chunk)
        if count > 0:
            itl.append((gap / per_chunk, count))
    return itl


def tokens_per_chunk(
    n_chunks: int, output_tokens: int | None, cumulative: Sequence[int] | None = None
) -> list[float]:
    """Tokens carried by each token chunk, by the same rules as ITL (for token-time accounting).

    Exact from cumulative usage when there is one count per chunk; else the first chunk
    carries one token and the rest of ``output_tokens`` is spread evenly; with no token count
    at all (a failed stream), one token per chunk.
    """
    if n_chunks == 0:
        return []
    if cumulative is not None and len(cumulative) == n_chunks:
        return [float(cumulative[0])] + [
            float(max(1, cumulative[i] - cumulative[i - 1])) for i in range(1, n_chunks)
        ]
    if not output_tokens or output_tokens < n_chunks or n_chunks == 1:
        first = float(output_tokens) if n_chunks == 1 and output_tokens else 1.0
        return [first] + [1.0] * (n_chunks - 1)
    rest = (output_tokens - 1) / (n_chunks - 1)
    return [1.0] + [rest] * (n_chunks - 1)
