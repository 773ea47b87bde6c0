"""Per-process metric collection and exact merging across Locust workers.

Each load process records finished requests into a :class:`Collector`; every report interval
(and once more when the test stops) it ships ``drain()`` deltas to the master, which
``merge()``s them into its own Collector. Everything in it merges exactly: histograms by bucket
counts, counters by sum, and the token time series by 100 ms wall-clock bucket.

Token-time accounting: each token chunk's tokens are added to the bucket of the chunk's
arrival (wall clock), so a long request counts in every window it streamed through, and
throughput over a window is ``tokens in buckets inside the window / window length``.

Warm-up: a request that *started* before ``measure_from_ns`` is a warm-up request: it is kept
in requests.csv (phase ``warmup``) but not in histograms or request counters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tokenswarm.histograms import Histogram
from tokenswarm.timing import DerivedTiming

BUCKET_NS = 100_000_000
METRICS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "chunk_gap_ms")


@dataclass(slots=True)
class RequestRecord:
    """One request's outcome, as the load generator saw it."""

    start_wall_ns: int
    end_wall_ns: int
    worker: str
    error_class: str | None = None
    error_detail: str = ""
    timing: DerivedTiming | None = None
    input_tokens: int | None = None
    expected_input_tokens: int | None = None
    output_tokens: int | None = None
    requested_output_tokens: int | None = None
    output_tokens_source: str = "none"
    chunk_wall_ns: Sequence[int] = ()
    chunk_tokens: Sequence[float] = ()

    @property
    def ok(self) -> bool:
        return self.error_class is None


@dataclass
class Collector:
    """Histograms, counters, token time series and pending CSV rows of one process (or merged)."""

    measure_from_ns: int = 0
    hists: dict[str, Histogram] = field(default_factory=lambda: {m: Histogram() for m in METRICS})
    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    output_token_buckets: Counter[int] = field(default_factory=Counter)
    input_token_buckets: Counter[int] = field(default_factory=Counter)
    completion_buckets: Counter[int] = field(default_factory=Counter)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def is_warmup(self, start_wall_ns: int) -> bool:
        return start_wall_ns < self.measure_from_ns

    def on_sent(self, start_wall_ns: int) -> None:
        self.counts["warmup_sent" if self.is_warmup(start_wall_ns) else "sent"] += 1

    def on_interrupted(self, record: RequestRecord) -> None:
        """A stream killed by the test stopping: its tokens count, the request does not."""
        self._add_token_times(record)
        if not self.is_warmup(record.start_wall_ns):
            self.counts["interrupted"] += 1

    def on_finished(self, record: RequestRecord) -> None:
        self._add_token_times(record)
        warmup = self.is_warmup(record.start_wall_ns)
        self.rows.append(_row(record, warmup))
        if warmup:
            return
        if record.ok or record.chunk_wall_ns:
            # the prompt was processed (prefill happened): rejected requests add no input work
            self.input_token_buckets[record.start_wall_ns // BUCKET_NS] += record.input_tokens or 0
        if not record.ok:
            self.counts["failed"] += 1
            self.errors[str(record.error_class)] += 1
            return
        self.counts["ok"] += 1
        self.completion_buckets[record.end_wall_ns // BUCKET_NS] += 1
        self.counts["output_tokens"] += record.output_tokens or 0
        self.counts["input_tokens"] += record.input_tokens or 0
        self.counts[f"output_tokens_source_{record.output_tokens_source}"] += 1
        if (
            record.requested_output_tokens
            and (record.output_tokens or 0) < record.requested_output_tokens
        ):
            self.counts["short_outputs"] += 1
        if record.expected_input_tokens is not None and record.input_tokens is not None:
            diff = record.input_tokens - record.expected_input_tokens
            if diff:
                self.counts["prompt_tokens_mismatch"] += 1
                self.counts["prompt_tokens_abs_diff"] += abs(diff)
        timing = record.timing
        if timing is not None:
            self.hists["ttft_ms"].record(timing.ttft_ms)
            self.hists["e2e_ms"].record(timing.e2e_ms)
            if timing.tpot_ms is not None:
                self.hists["tpot_ms"].record(timing.tpot_ms)
            for value, count in timing.itl:
                self.hists["itl_ms"].record(value, count)
            self.hists["chunk_gap_ms"].record_many(timing.chunk_gaps_ms)

    def _add_token_times(self, record: RequestRecord) -> None:
        buckets = self.output_token_buckets
        for wall_ns, tokens in zip(record.chunk_wall_ns, record.chunk_tokens, strict=True):
            buckets[wall_ns // BUCKET_NS] += tokens

    def drain(self) -> dict[str, Any]:
        """Everything recorded since the last drain, as a wire dict; resets this collector."""
        delta = {
            "hists": {m: h.to_wire() for m, h in self.hists.items() if h.count},
            "counts": dict(self.counts),
            "errors": dict(self.errors),
            "out_tok": dict(self.output_token_buckets),
            "in_tok": dict(self.input_token_buckets),
            "done": dict(self.completion_buckets),
            "rows": self.rows,
        }
        self.hists = {m: Histogram() for m in METRICS}
        for counter in (
            self.counts,
            self.errors,
            self.output_token_buckets,
            self.input_token_buckets,
            self.completion_buckets,
        ):
            counter.clear()
        self.rows = []
        return delta

    def merge(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        """Add a drained delta; returns its rows (the caller streams them to requests.csv)."""
        for name, wire in delta["hists"].items():
            self.hists[name].merge(Histogram.from_wire(wire))
        self.counts.update(delta["counts"])
        self.errors.update(delta["errors"])
        self.output_token_buckets.update({int(k): v for k, v in delta["out_tok"].items()})
        self.input_token_buckets.update({int(k): v for k, v in delta["in_tok"].items()})
        self.completion_buckets.update({int(k): v for k, v in delta["done"].items()})
        return list(delta["rows"])


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _row(record: RequestRecord, warmup: bool) -> dict[str, Any]:
    timing = record.timing
    return {
        "start_unix_ns": record.start_wall_ns,
        "phase": "warmup" if warmup else "measure",
        "status": "ok" if record.ok else "error",
        "error_class": record.error_class or "",
        "ttft_ms": _round(timing.ttft_ms) if timing else None,
        "tpot_ms": _round(timing.tpot_ms) if timing else None,
        "itl_mean_ms": _round(timing.itl_mean_ms) if timing else None,
        "e2e_ms": _round(timing.e2e_ms) if timing else None,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "requested_output_tokens": record.requested_output_tokens,
        "chunks": len(record.chunk_wall_ns),
        "worker": record.worker,
        "error_detail": record.error_detail,
    }
