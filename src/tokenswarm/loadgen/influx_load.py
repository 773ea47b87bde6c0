"""The ``tokenswarm_load`` series: one point per wall-clock second, built from merged deltas.

The results process (master or local runner) feeds every merged worker delta to
:meth:`LoadSeries.absorb` and calls :meth:`LoadSeries.due` about once a second. Point ``S``
describes the second ``[S, S+1)`` and is stamped at its start, so ``GROUP BY time(1s)`` puts
it in its own bucket:

- ``output_tps`` = output tokens whose chunks arrived in that second (token-time accounting,
  the collector's 100 ms buckets), ``total_tps`` adds the input tokens of measured requests
  started in it, ``rps`` = measured requests completed ok in it. These are exact per second
  because the buckets carry wall-clock time, whichever report delivered them.
- A second is emitted only ``lag_s`` after it ended (the report interval plus a margin), when
  every worker has reported it; data that still arrives later (a slow worker) is moved into
  the next second to be emitted, so the series' totals always equal the run's totals.
- Percentiles (p50/p90/p99 of TTFT, ITL, TPOT, E2E) and ``errors`` come from the histograms
  and counters of the deltas that arrived since the previous point: percentiles are exact for
  that set of requests (histograms merge bucket by bucket), never averaged. Like summary.json
  they cover measured requests only (warm-up excluded).
- ``users`` and ``in_flight`` (requests sent - finished, as reported so far) are noted at each
  tick during the second itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from tokenswarm.collector import BUCKET_NS
from tokenswarm.histograms import Histogram
from tokenswarm.influx import schema
from tokenswarm.influx.point import FieldValue, Point
from tokenswarm.stages import StageInfo

SECOND_NS = 1_000_000_000
BUCKETS_PER_S = SECOND_NS // BUCKET_NS
METRICS = {f"{m}_ms": m for m in schema.LATENCIES}

Locate = Callable[[int], "StageInfo | None"]


class LoadSeries:
    """Per-second aggregation of merged deltas (see the module doc for the formulas)."""

    def __init__(self, run_id: str, start_ns: int, lag_s: float, locate: Locate) -> None:
        self.run_id = run_id
        self.lag_ns = int(lag_s * SECOND_NS)
        self.locate = locate
        self.next_s = start_ns // SECOND_NS  # first second not emitted yet
        self.tokens: dict[str, Counter[int]] = {k: Counter() for k in ("out_tok", "in_tok", "done")}
        self.hists: dict[str, Histogram] = {name: Histogram() for name in METRICS}
        self.errors = 0
        self.started = 0  # requests sent (warm-up included)
        self.ended = 0  # requests finished or interrupted
        self.seen_at: dict[int, tuple[int, int]] = {}  # second -> (users, in_flight) at a tick
        self.last_seen = (0, 0)

    def absorb(self, delta: dict[str, Any]) -> None:
        """Add one merged worker delta (the collector's wire format)."""
        first_open = self.next_s * BUCKETS_PER_S
        for key, counter in self.tokens.items():
            for bucket, value in delta.get(key, {}).items():
                counter[max(int(bucket), first_open)] += value  # late data: next open second
        for stage in delta.get("stages", {}).values():
            for name, wire in stage.get("hists", {}).items():
                if name in self.hists:
                    self.hists[name].merge(Histogram.from_wire(wire))
            counts = stage.get("counts", {})
            self.errors += counts.get("failed", 0)
            self.started += counts.get("sent", 0) + counts.get("warmup_sent", 0)
            self.ended += counts.get("interrupted", 0)
        self.ended += len(delta.get("rows", ()))

    def note(self, now_ns: int, users: int) -> None:
        """Remember the users running and the requests in flight during the second of
        ``now_ns`` (called at each tick; the second's point is written later)."""
        self.seen_at[now_ns // SECOND_NS] = (users, max(0, self.started - self.ended))

    def due(self, now_ns: int) -> list[Point]:
        """Points of the seconds that ended at least ``lag_s`` ago."""
        return self._emit((now_ns - self.lag_ns) // SECOND_NS)

    def flush(self, end_ns: int) -> list[Point]:
        """Points of every second up to the one holding ``end_ns`` (all data is in)."""
        return self._emit(-(-end_ns // SECOND_NS))

    def _emit(self, until_s: int) -> list[Point]:
        points = []
        while self.next_s < until_s:
            last = self.next_s == until_s - 1  # arrival-based values go to the newest second
            points.append(self._point(self.next_s, last))
            self.next_s += 1
        return points

    def _seen(self, second: int) -> tuple[int, int]:
        """(users, in_flight) noted in ``second``, else the latest noted before it."""
        for noted in sorted(s for s in self.seen_at if s <= second):
            self.last_seen = self.seen_at.pop(noted)
        return self.last_seen

    def _point(self, second: int, with_arrivals: bool) -> Point:
        buckets = range(second * BUCKETS_PER_S, (second + 1) * BUCKETS_PER_S)
        out_tok, in_tok, done = (
            float(sum(self.tokens[k].pop(b, 0) for b in buckets))
            for k in ("out_tok", "in_tok", "done")
        )
        users, in_flight = self._seen(second)
        fields: dict[str, FieldValue | None] = {
            "users": users,
            "in_flight": in_flight,
            "rps": done,
            "output_tps": out_tok,
            "total_tps": out_tok + in_tok,
            "errors": 0,
        }
        if with_arrivals:
            fields["errors"] = self.errors
            self.errors = 0
            for name, hist in self.hists.items():
                for q in schema.LOAD_PERCENTILES:
                    fields[f"{METRICS[name]}_p{q}_ms"] = hist.percentile(q)
            self.hists = {name: Histogram() for name in METRICS}
        stage = self.locate(second * SECOND_NS)
        tags = {"run_id": self.run_id}
        if stage is not None:
            tags.update(scenario=stage.scenario, stage=stage.name)
        return Point(schema.LOAD.name, tags, fields, second * SECOND_NS)
