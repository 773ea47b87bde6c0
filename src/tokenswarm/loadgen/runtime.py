"""Process-wide state of tokenswarm inside a Locust process.

Two collectors, one path for local and distributed runs: users record into ``collector``
(this process's samples); deltas drained from it are merged into ``aggregate`` on the process
that writes results (the master, or the single local process). On a worker the deltas travel
through ``report_to_master`` and a final ``tokenswarm_final`` message instead.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenswarm.collector import Collector, RequestRecord
from tokenswarm.errors import UserError
from tokenswarm.loadgen.context import LoadContext
from tokenswarm.loadgen.options import LoadOptions
from tokenswarm.results import RequestsCsv, Window, build_summary, write_summary
from tokenswarm.table import format_summary

log = logging.getLogger("tokenswarm")


@dataclass
class RunInfo:
    """The run being measured, as known to the results-writing process."""

    run_id: str
    started_ns: int
    measure_from_ns: int
    run_dir: Path
    csv: RequestsCsv
    config: dict[str, Any]
    workers: set[str] = field(default_factory=set)
    finals_from: set[str] = field(default_factory=set)
    stop_ns: int = 0
    finished: bool = False


class Runtime:
    def __init__(self) -> None:
        self.collector = Collector()
        self.aggregate = Collector()
        self.context: LoadContext | None = None
        self.run: RunInfo | None = None

    def sent(self, start_wall_ns: int) -> None:
        """A request is about to be written (load processes)."""
        self.collector.on_sent(start_wall_ns)

    def finished(self, record: RequestRecord) -> None:
        """A request ended (ok or failed): record it (load processes)."""
        self.collector.on_finished(record)

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
        return self.context

    def require_context(self, environment: Any) -> LoadContext:
        return self.context if self.context is not None else self.build_context(environment)

    def begin(self, opts: LoadOptions, run_id: str, config: dict[str, Any]) -> RunInfo:
        """Start a run on the results-writing process: window, run dir, streaming CSV."""
        now = time.time_ns()
        run_dir = Path(opts.results_dir) / run_id
        self.aggregate = Collector(measure_from_ns=now + int(opts.warmup * 1e9))
        self.run = RunInfo(
            run_id=run_id,
            started_ns=now,
            measure_from_ns=self.aggregate.measure_from_ns,
            run_dir=run_dir,
            csv=RequestsCsv(run_dir / "requests.csv"),
            config=config,
        )
        return self.run

    def absorb(self, delta: dict[str, Any], source: str) -> None:
        """Merge a drained delta into the aggregate and stream its rows to requests.csv."""
        if self.run is None or self.run.finished:
            if _has_data(delta):
                log.warning("tokenswarm: dropped a late report from %s (no run open)", source)
            return
        self.run.workers.add(source)
        self.run.csv.write(self.aggregate.merge(delta))

    def finish(self, locust_version: str) -> dict[str, Any] | None:
        """Write summary.json, close requests.csv and print the table (once per run)."""
        run = self.run
        if run is None or run.finished:
            return None
        run.finished = True
        run.csv.close()
        stop_ns = run.stop_ns or time.time_ns()
        if stop_ns <= run.measure_from_ns:
            log.warning("tokenswarm: the run ended before its warm-up did: nothing was measured")
        window = Window.aligned(run.measure_from_ns, stop_ns)
        summary = build_summary(
            self.aggregate,
            window,
            run_id=run.run_id,
            started_ns=run.started_ns,
            config=run.config,
            workers=sorted(run.workers),
            locust_version=locust_version,
        )
        summary["requests"]["csv_rows"] = run.csv.rows_written
        write_summary(run.run_dir, summary)
        if os.environ.get("TOKENSWARM_PRINT_TABLE", "1") != "0":
            print("\n" + format_summary(summary, str(run.run_dir)), flush=True)
        log.info("tokenswarm: results written to %s", run.run_dir)
        return summary


def _has_data(delta: dict[str, Any]) -> bool:
    return any(delta.get(key) for key in ("hists", "counts", "rows", "out_tok"))


RUNTIME = Runtime()
