"""Process-wide state of tokenswarm inside a Locust process.

Two collectors, one path for local and distributed runs: users record into ``collector``
(this process's samples); deltas drained from it are merged into ``aggregate`` on the process
that writes results (the master, or the single local process). On a worker the deltas travel
through ``report_to_master`` and a final ``tokenswarm_final`` message instead.

Both collectors share the process's stage ``timeline``. The process that drives the load
(master or local runner) starts stages with :meth:`Runtime.start_stage`; load processes learn
them with :meth:`Runtime.apply_stage`. Extensions (InfluxDB sink, web UI, ...) subscribe to
``stage_listeners`` (every process, each stage start), ``record_listeners`` (load processes,
each finished request, after its stage was attributed) and ``delta_listeners`` (results
process, each merged delta).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenswarm.collector import Collector, RequestRecord
from tokenswarm.errors import UserError
from tokenswarm.loadgen.context import LoadContext
from tokenswarm.loadgen.options import LoadOptions
from tokenswarm.results import RequestsCsv, build_summary, write_stages_csv, write_summary
from tokenswarm.slo import SloConfig, is_good
from tokenswarm.stages import StageInfo, StageTimeline
from tokenswarm.table import format_summary

log = logging.getLogger("tokenswarm")


@dataclass
class RunInfo:
    """The run being measured, as known to the results-writing process."""

    run_id: str
    started_ns: int
    run_dir: Path
    csv: RequestsCsv
    config: dict[str, Any]
    workers: set[str] = field(default_factory=set)
    finals_from: set[str] = field(default_factory=set)
    stop_ns: int = 0
    finished: bool = False
    slo: SloConfig | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    last_report_ns: dict[str, int] = field(default_factory=dict)


class Runtime:
    def __init__(self) -> None:
        self.timeline = StageTimeline()
        self.collector = Collector(timeline=self.timeline)
        self.aggregate = Collector(timeline=self.timeline)
        self.context: LoadContext | None = None
        self.run: RunInfo | None = None
        self.stage_listeners: list[Callable[[StageInfo], None]] = []
        self.record_listeners: list[Callable[[RequestRecord], None]] = []
        self.delta_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.summary_hooks: list[Callable[[dict[str, Any]], None]] = []
        self.stage_count = 1  # planned stages (a sweep sets it), for progress output

    @property
    def stage(self) -> StageInfo | None:
        return self.timeline.current

    def apply_stage(self, info: StageInfo) -> None:
        """Learn a stage (every process): attribution, request shape, listeners."""
        self.timeline.add(info)
        if self.context is not None:
            self.context.apply_stage(info)
        for listener in self.stage_listeners:
            listener(info)

    def sent(self, start_wall_ns: int) -> None:
        """A request is about to be written (load processes)."""
        self.collector.on_sent(start_wall_ns)

    def finished(self, record: RequestRecord) -> None:
        """A request ended (ok or failed): record it (load processes)."""
        self.collector.on_finished(record)
        for listener in self.record_listeners:
            listener(record)

    def interrupted(self, record: RequestRecord) -> None:
        """A stream was cut by the test stopping: its tokens count, the request does not."""
        self.collector.on_interrupted(record)

    def build_context(self, environment: Any) -> LoadContext:
        opts = LoadOptions.from_namespace(environment.parsed_options)
        host = environment.host or environment.parsed_options.host
        if not host:
            raise UserError("no target: pass --host (e.g. --host http://127.0.0.1:8000)")
        worker_index = int(getattr(environment.runner, "worker_index", 0) or 0)
        self.context = LoadContext(opts, host, worker_index)
        if self.stage is not None:
            self.context.apply_stage(self.stage)
        return self.context

    def require_context(self, environment: Any) -> LoadContext:
        return self.context if self.context is not None else self.build_context(environment)

    def begin(self, opts: LoadOptions, run_id: str, config: dict[str, Any],
              slo: SloConfig | None = None) -> RunInfo:
        """Start a run on the results-writing process: run dir, streaming CSV (stages are
        started separately: a load shape may have started the first one already)."""
        now = time.time_ns()
        run_dir = Path(opts.results_dir) / run_id
        self.aggregate = Collector(timeline=self.timeline)
        self.run = RunInfo(
            run_id=run_id,
            started_ns=now,
            run_dir=run_dir,
            csv=RequestsCsv(run_dir / "requests.csv"),
            config=config,
            slo=slo,
        )
        return self.run

    def absorb(self, delta: dict[str, Any], source: str) -> None:
        """Merge a drained delta into the aggregate and stream its rows to requests.csv;
        counts the good requests (goodput) of each stage."""
        run = self.run
        if run is None or run.finished:
            if _has_data(delta):
                log.warning("tokenswarm: dropped a late report from %s (no run open)", source)
            return
        run.workers.add(source)
        run.last_report_ns[source] = time.time_ns()
        rows = self.aggregate.merge(delta)
        limits = run.slo.per_request_limits() if run.slo is not None else {}
        for row in rows:
            if row["phase"] == "measure" and is_good(row, limits):
                self.aggregate.stage_stats(int(row["stage"])).counts["good"] += 1
        run.csv.write(rows)
        for listener in self.delta_listeners:
            listener(delta)

    def finish(self, locust_version: str) -> dict[str, Any] | None:
        """Write summary.json, close requests.csv and print the table (once per run)."""
        run = self.run
        if run is None or run.finished:
            return None
        run.finished = True
        run.csv.close()
        stop_ns = run.stop_ns or time.time_ns()
        first = self.timeline.stages[0] if self.timeline.stages else None
        if first is None or stop_ns <= first.measure_from_ns:
            log.warning("tokenswarm: the run ended before its warm-up did: nothing was measured")
        summary = build_summary(
            self.aggregate,
            stop_ns,
            run_id=run.run_id,
            started_ns=run.started_ns,
            config=run.config,
            workers=sorted(run.workers),
            locust_version=locust_version,
            slo=run.slo,
        )
        summary["requests"]["csv_rows"] = run.csv.rows_written
        _flag_lost_workers(summary, run)
        summary.update(run.extra)
        for hook in self.summary_hooks:
            hook(summary)
        write_summary(run.run_dir, summary)
        write_stages_csv(run.run_dir, summary)
        if os.environ.get("TOKENSWARM_PRINT_TABLE", "1") != "0":
            print("\n" + format_summary(summary, str(run.run_dir)), flush=True)
        log.info("tokenswarm: results written to %s", run.run_dir)
        return summary


def _flag_lost_workers(summary: dict[str, Any], run: RunInfo) -> None:
    """A worker that never sent its final report (died, host lost) is named in every stage
    whose window ended after its last report: those stages miss some of its requests."""
    lost = run.config.get("workers_lost") or []
    for block in summary["stages"]:
        end = block["window_ns"]["end"]
        block["workers_lost"] = [w for w in lost if run.last_report_ns.get(w, 0) < end]


def _has_data(delta: dict[str, Any]) -> bool:
    return any(delta.get(key) for key in ("stages", "rows", "out_tok"))


RUNTIME = Runtime()
