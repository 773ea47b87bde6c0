"""Builders of RequestRecord for the collector and results tests (importable as
``records``: pytest's pythonpath has tests/)."""

from __future__ import annotations

from tokenswarm.collector import BUCKET_NS, Collector, RequestRecord
from tokenswarm.stages import StageInfo
from tokenswarm.timing import derive_timing, tokens_per_chunk

BASE = 1_700_000_000_000_000_000  # wall-clock ns, a multiple of BUCKET_NS
assert BASE % BUCKET_NS == 0


def ns(ms: float) -> int:
    return round(ms * 1_000_000)


def record(
    start_ms: float,
    chunk_ms: list[float],
    output_tokens: int | None,
    *,
    send_delay_ms: float = 0.0,
    error: str | None = None,
    input_tokens: int | None = 100,
    expected_input: int | None = None,
    requested: int | None = None,
    cumulative: list[int] | None = None,
    source: str = "usage",
    worker: str = "w1",
) -> RequestRecord:
    """A record whose chunks arrive ``chunk_ms`` after a request started at BASE + start_ms."""
    start = BASE + ns(start_ms)
    timing = None
    if error is None and chunk_ms:
        timing = derive_timing(
            ns(start_ms + send_delay_ms),
            [ns(start_ms + c) for c in chunk_ms],
            output_tokens or 0,
            cumulative,
        )
    chunk_wall = [start + ns(c) for c in chunk_ms]
    return RequestRecord(
        start_wall_ns=start,
        end_wall_ns=chunk_wall[-1] if chunk_wall else start + ns(5),
        worker=worker,
        error_class=error,
        error_detail=f"detail of {error}" if error else "",
        timing=timing,
        input_tokens=input_tokens,
        expected_input_tokens=expected_input,
        output_tokens=output_tokens,
        requested_output_tokens=requested,
        output_tokens_source=source,
        chunk_wall_ns=chunk_wall,
        chunk_tokens=tokens_per_chunk(len(chunk_ms), output_tokens, cumulative),
    )


def staged(measure_from_ns: int, started_ns: int = BASE, index: int = 0) -> Collector:
    """A collector with one stage that started at ``started_ns`` and measures from
    ``measure_from_ns`` (what a single-stage run looks like)."""
    collector = Collector()
    collector.timeline.add(stage(measure_from_ns, started_ns, index))
    return collector


def stage(measure_from_ns: int, started_ns: int = BASE, index: int = 0,
          scenario: str = "custom") -> StageInfo:
    return StageInfo(index=index, name=f"{scenario}@{index}", scenario=scenario, users=1,
                     input_tokens=100, output_tokens=10, started_ns=started_ns,
                     measure_from_ns=measure_from_ns)
