"""Live, merged-across-workers LLM metrics of the current run (the web UI's data source).

Everything is read on the process that merges the workers' deltas (the master, or the single
local process), from ``RUNTIME.aggregate`` and ``RUNTIME.delta_listeners``:

- per stage: the same blocks as ``summary.json`` (``tokenswarm.results.build_summary``), built
  with the window ending at ``data_until = now - REPORT_LAG_S``: workers ship their samples every
  3 s (Locust's report interval; 2 s locally), so token buckets newer than that are incomplete
  and would under-state tokens/s;
- in flight, per stage: ``sent + warmup_sent - ok - failed - interrupted - transition -
  warm-up finished``
  (requests this stage started that have not been reported finished; 0 once the test stopped:
  streams cut during warm-up are never reported);
- history for the charts: output tokens/s in ``INTERVAL_S`` bins from the exact 100 ms token time
  series, and, at each merged report (at most every ``INTERVAL_S``), TTFT/ITL p50/p99 over the
  reports of the last ``RECENT_S`` seconds (like Locust's "current" percentiles), user count and
  requests in flight. The last ``HISTORY_POINTS`` points are kept (an hour at 2 s).

The document is rebuilt at most once per ``CACHE_S`` however many clients poll it.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

import locust
from locust.runners import STATE_RUNNING, STATE_SPAWNING, STATE_STOPPING

from tokenswarm.collector import BUCKET_NS
from tokenswarm.histograms import Histogram
from tokenswarm.loadgen.runtime import RUNTIME
from tokenswarm.results import build_summary, iso

SCHEMA = "tokenswarm.live/1"
REPORT_LAG_S = 3.5
INTERVAL_S = 2.0
RECENT_S = 10.0
HISTORY_POINTS = 1800
CACHE_S = 1.0
CHART_METRICS = ("ttft_ms", "itl_ms")


class LiveView:
    """Live state of one web UI: history since the run started and the cached document."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self._run_key: tuple[str, int] | None = None
        self._reset()

    def _reset(self) -> None:
        self._recent: deque[tuple[float, dict[str, Histogram]]] = deque()
        self._points: deque[dict[str, Any]] = deque(maxlen=HISTORY_POINTS)
        self._warmup_done: Counter[int] = Counter()
        self._last_point = 0.0
        self._cached: tuple[float, dict[str, Any]] | None = None

    def _sync_run(self) -> None:
        """A new run (a new test started from the UI) starts a new history."""
        run = RUNTIME.run
        key = (run.run_id, run.started_ns) if run is not None else None
        if key != self._run_key:
            self._run_key = key
            self._reset()

    @property
    def running(self) -> bool:
        return self.environment.runner.state in (STATE_RUNNING, STATE_SPAWNING)

    def on_delta(self, delta: dict[str, Any]) -> None:
        """A worker's delta was merged into the aggregate (RUNTIME.delta_listeners)."""
        self._sync_run()
        now = time.time()
        hists = {m: Histogram() for m in CHART_METRICS}
        for wire in delta.get("stages", {}).values():
            for metric in CHART_METRICS:
                if metric in wire["hists"]:
                    hists[metric].merge(Histogram.from_wire(wire["hists"][metric]))
        self._recent.append((now, hists))
        for row in delta.get("rows", ()):
            if row.get("phase") == "warmup" and row.get("stage", "") != "":
                self._warmup_done[int(row["stage"])] += 1
        if now - self._last_point >= INTERVAL_S:
            self._last_point = now
            self._points.append(self._point(now))

    def _point(self, now: float) -> dict[str, Any]:
        while self._recent and self._recent[0][0] < now - RECENT_S:
            self._recent.popleft()
        merged = {m: Histogram() for m in CHART_METRICS}
        for _, hists in self._recent:
            for metric, hist in hists.items():
                merged[metric].merge(hist)
        stage = RUNTIME.stage
        point: dict[str, Any] = {
            "t": round(now, 3),
            "stage": stage.index if stage is not None else None,
            "users": self.environment.runner.user_count,
            "in_flight": sum(self.in_flight().values()),
        }
        for metric, hist in merged.items():
            name = metric.removesuffix("_ms")
            point[f"{name}_p50"] = hist.percentile(50.0)
            point[f"{name}_p99"] = hist.percentile(99.0)
        return point

    def in_flight(self) -> dict[int, int]:
        """Requests in flight per stage index (see the module docstring)."""
        if self.environment.runner.state not in (STATE_RUNNING, STATE_SPAWNING, STATE_STOPPING):
            return {}
        out = {}
        for index, stats in RUNTIME.aggregate.stages.items():
            c = stats.counts
            started = c.get("sent", 0) + c.get("warmup_sent", 0)
            ended = sum(c.get(k, 0) for k in ("ok", "failed", "interrupted", "transition"))
            out[index] = max(started - ended - self._warmup_done[index], 0)
        return out

    def document(self) -> dict[str, Any]:
        """The ``/tokenswarm/summary.json`` document (cached for CACHE_S)."""
        now = time.time()
        if self._cached is not None and now - self._cached[0] < CACHE_S:
            return self._cached[1]
        self._sync_run()
        doc = self._build(now)
        self._cached = (now, doc)
        return doc

    def _build(self, now: float) -> dict[str, Any]:
        run = RUNTIME.run
        runner = self.environment.runner
        running = self.running
        data_until_ns = int((now - REPORT_LAG_S) * 1e9)
        if run is not None and run.stop_ns:
            # every final report is in once the run is finished
            data_until_ns = run.stop_ns if run.finished else min(data_until_ns, run.stop_ns)
        in_flight = self.in_flight()
        summary = None
        if run is not None:
            summary = build_summary(
                RUNTIME.aggregate,
                max(data_until_ns, run.started_ns),
                run_id=run.run_id,
                started_ns=run.started_ns,
                config=run.config,
                workers=sorted(run.workers),
                locust_version=locust.__version__,
                slo=run.slo,
            )
            if not run.finished:
                summary["ended_at"] = None
        return {
            "schema": SCHEMA,
            "updated_at": iso(int(now * 1e9)),
            "data_until": iso(data_until_ns),
            "state": runner.state,
            "user_count": runner.user_count,
            "in_flight": sum(in_flight.values()),
            "stages": _stages(in_flight, running, now) if run is not None else [],
            "history": {
                "interval_s": INTERVAL_S,
                "recent_s": RECENT_S,
                "output_tps": _tps_series(data_until_ns) if run is not None else [],
                "points": list(self._points),
            },
            "summary": summary,
        }


def _stages(in_flight: dict[int, int], running: bool, now: float) -> list[dict[str, Any]]:
    """The live facts of each stage: times, state (warm-up, measuring, done), in flight."""
    current = RUNTIME.stage
    out = []
    for info in RUNTIME.timeline.stages:
        if current is None or info.index != current.index or not running:
            state = "done"
        else:
            state = "warm-up" if now * 1e9 < info.measure_from_ns else "measuring"
        out.append(
            {
                "index": info.index,
                "name": info.name,
                "users": info.users,
                "started_at": iso(info.started_ns),
                "measure_from": iso(info.measure_from_ns),
                "state": state,
                "in_flight": in_flight.get(info.index, 0),
            }
        )
    return out


def _tps_series(until_ns: int) -> list[list[float]]:
    """``[[bin start (unix s), output tokens/s], ...]`` in INTERVAL_S bins (on a wall-clock grid)
    that lie wholly between the first stage's start and ``until_ns``, read from the merged
    100 ms token buckets."""
    stages = RUNTIME.timeline.stages
    if not stages:
        return []
    per_bin = round(INTERVAL_S * 1e9 / BUCKET_NS)
    first = -(-stages[0].started_ns // (BUCKET_NS * per_bin))
    last = until_ns // BUCKET_NS // per_bin  # exclusive: the bin still filling
    tokens: Counter[int] = Counter()
    for bucket, value in RUNTIME.aggregate.output_token_buckets.items():
        tokens[bucket // per_bin] += value
    bins = range(max(first, last - HISTORY_POINTS), last)
    return [[b * INTERVAL_S, tokens.get(b, 0.0) / INTERVAL_S] for b in bins]
