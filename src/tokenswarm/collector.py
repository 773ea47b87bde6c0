"""Per-process metric collection and exact merging across Locust workers.

Each load process records finished requests into a :class:`Collector`; every report interval
(and once more when the test stops) it ships ``drain()`` deltas to the master, which
``merge()``s them into its own Collector. Everything in it merges exactly: histograms by bucket
counts, counters by sum, and the token time series by 100 ms wall-clock bucket.

Token-time accounting: each token chunk's tokens are added to the bucket of the chunk's
arrival (wall clock), so a long request counts in every window it streamed through, and
throughput over a window is ``tokens in buckets inside the window / window length``.

Stages and warm-up: each request belongs to the stage during which it *started*
(``tokenswarm.stages``); one started before its stage's ``measure_from_ns`` is a warm-up
request: kept in requests.csv (phase ``warmup``) but not in histograms or request counters.
Histograms and counters are kept per stage; the token time series is one for the whole run
(a stage's throughput is read from its window).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tokenswarm.histograms import Histogram
from tokenswarm.stages import StageTimeline
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
    stage: int | None = None
    scenario: str = ""
    phase: str = ""

    @property
    def ok(self) -> bool:
        return self.error_class is None


@dataclass
class StageStats:
    """Latency histograms and counters of one stage's measured requests (mergeable)."""

    hists: dict[str, Histogram] = field(default_factory=lambda: {m: Histogram() for m in METRICS})
    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def record(self, record: RequestRecord) -> None:
        """Count a measured request; ok requests also feed the latency histograms."""
        if not record.ok:
            self.counts["failed"] += 1
            self.errors[str(record.error_class)] += 1
            return
        counts = self.counts
        counts["ok"] += 1
        counts["output_tokens"] += record.output_tokens or 0
        counts["input_tokens"] += record.input_tokens or 0
        counts[f"output_tokens_source_{record.output_tokens_source}"] += 1
        if (
            record.requested_output_tokens
            and (record.output_tokens or 0) < record.requested_output_tokens
        ):
            counts["short_outputs"] += 1
        if record.expected_input_tokens is not None and record.input_tokens is not None:
            diff = record.input_tokens - record.expected_input_tokens
            if diff:
                counts["prompt_tokens_mismatch"] += 1
                counts["prompt_tokens_abs_diff"] += abs(diff)
        timing = record.timing
        if timing is not None:
            hists = self.hists
            hists["ttft_ms"].record(timing.ttft_ms)
            hists["e2e_ms"].record(timing.e2e_ms)
            if timing.tpot_ms is not None:
                hists["tpot_ms"].record(timing.tpot_ms)
            for value, count in timing.itl:
                hists["itl_ms"].record(value, count)
            hists["chunk_gap_ms"].record_many(timing.chunk_gaps_ms)

    def merge(self, other: StageStats) -> None:
        for name, hist in other.hists.items():
            self.hists[name].merge(hist)
        self.counts.update(other.counts)
        self.errors.update(other.errors)

    def to_wire(self) -> dict[str, Any]:
        return {
            "hists": {m: h.to_wire() for m, h in self.hists.items() if h.count},
            "counts": dict(self.counts),
            "errors": dict(self.errors),
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> StageStats:
        stats = cls()
        for name, hist in wire["hists"].items():
            stats.hists[name].merge(Histogram.from_wire(hist))
        stats.counts.update(wire["counts"])
        stats.errors.update(wire["errors"])
        return stats


@dataclass
class Collector:
    """Per-stage stats, token time series and pending CSV rows of one process (or merged).

    ``timeline`` says which stage a request belongs to (shared with the process's other
    collector: the stages are the same for everything a process records).
    """

    timeline: StageTimeline = field(default_factory=StageTimeline)
    stages: dict[int, StageStats] = field(default_factory=dict)
    output_token_buckets: Counter[int] = field(default_factory=Counter)
    input_token_buckets: Counter[int] = field(default_factory=Counter)
    completion_buckets: Counter[int] = field(default_factory=Counter)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def stage_stats(self, index: int) -> StageStats:
        stats = self.stages.get(index)
        if stats is None:
            stats = self.stages[index] = StageStats()
        return stats

    def overall(self) -> StageStats:
        """All stages merged (exact: histograms add bucket by bucket)."""
        total = StageStats()
        for stats in self.stages.values():
            total.merge(stats)
        return total

    def on_sent(self, start_wall_ns: int) -> None:
        stage, measured = self.timeline.locate(start_wall_ns)
        stats = self.stage_stats(stage.index if stage else 0)
        stats.counts["sent" if measured else "warmup_sent"] += 1

    def on_interrupted(self, record: RequestRecord) -> None:
        """A stream killed by the test stopping (or a ramp-down): its tokens count, and its
        prompt if prefill happened; the request does not."""
        self._add_token_times(record)
        self._add_input_tokens(record)
        stage, measured = self.timeline.locate(record.start_wall_ns)
        if measured and stage is not None:
            self.stage_stats(stage.index).counts["interrupted"] += 1

    def on_finished(self, record: RequestRecord) -> None:
        """Record a finished request; sets ``record.stage`` (None for warm-up),
        ``record.scenario`` and ``record.phase`` (attribution by start time, see
        tokenswarm.stages).

        A request that started in a stage's steady window but ended after the next stage
        began is a ``transition`` request: it lived through the next stage's ramp (more or
        fewer users), so its latencies describe neither stage and stay out of both stages'
        histograms; its tokens still count wherever they arrived (token-time accounting)."""
        self._add_token_times(record)
        stage, measured = self.timeline.locate(record.start_wall_ns)
        record.scenario = stage.scenario if stage is not None else ""
        record.stage = stage.index if measured and stage is not None else None
        record.phase = "measure" if measured else "warmup"
        if measured and stage is not None:
            following = self.timeline.next_start(stage.index)
            if following is not None and record.end_wall_ns > following:
                record.phase = "transition"
        self.rows.append(_row(record, stage.index if stage is not None else None))
        # time series (whatever the request's stage: each window reads its own buckets, so a
        # request started in warm-up that completes inside a window is one of its completions)
        self._add_input_tokens(record)
        if record.ok:
            self.completion_buckets[record.end_wall_ns // BUCKET_NS] += 1
        if not measured or stage is None:
            return
        if record.phase == "transition":
            self.stage_stats(stage.index).counts["transition"] += 1
        else:
            self.stage_stats(stage.index).record(record)

    def _add_input_tokens(self, record: RequestRecord) -> None:
        """Input tokens by start time, once the prompt was processed (a token arrived, or the
        request succeeded): rejected requests add no input work."""
        if record.ok or record.chunk_wall_ns:
            self.input_token_buckets[record.start_wall_ns // BUCKET_NS] += record.input_tokens or 0

    def _add_token_times(self, record: RequestRecord) -> None:
        buckets = self.output_token_buckets
        for wall_ns, tokens in zip(record.chunk_wall_ns, record.chunk_tokens, strict=True):
            buckets[wall_ns // BUCKET_NS] += tokens

    def drain(self) -> dict[str, Any]:
        """Everything recorded since the last drain, as a wire dict; resets this collector
        (the timeline stays)."""
        delta = {
            "stages": {str(i): s.to_wire() for i, s in self.stages.items()},
            "out_tok": dict(self.output_token_buckets),
            "in_tok": dict(self.input_token_buckets),
            "done": dict(self.completion_buckets),
            "rows": self.rows,
        }
        self.stages = {}
        for counter in (
            self.output_token_buckets,
            self.input_token_buckets,
            self.completion_buckets,
        ):
            counter.clear()
        self.rows = []
        return delta

    def merge(self, delta: dict[str, Any]) -> list[dict[str, Any]]:
        """Add a drained delta; returns its rows (the caller streams them to requests.csv)."""
        for index, wire in delta["stages"].items():
            self.stage_stats(int(index)).merge(StageStats.from_wire(wire))
        self.output_token_buckets.update({int(k): v for k, v in delta["out_tok"].items()})
        self.input_token_buckets.update({int(k): v for k, v in delta["in_tok"].items()})
        self.completion_buckets.update({int(k): v for k, v in delta["done"].items()})
        return list(delta["rows"])


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _row(record: RequestRecord, stage: int | None) -> dict[str, Any]:
    """The requests.csv row (``stage``: the stage it started in, warm-up included)."""
    timing = record.timing
    return {
        "start_unix_ns": record.start_wall_ns,
        "stage": "" if stage is None else stage,
        "scenario": record.scenario,
        "phase": record.phase,
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
