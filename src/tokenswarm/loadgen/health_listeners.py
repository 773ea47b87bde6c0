"""Locust wiring of load-process health (:mod:`tokenswarm.loadgen.health`).

- every load process (worker or local) runs one :class:`HealthMonitor` from ``test_start``;
- a worker adds its drained samples to each ``report_to_master`` message
  (``data["tokenswarm_health"]``: a list of :meth:`HealthMonitor.drain` dicts) and the master
  keeps them in :data:`LOG` (a local run drains its own monitor straight into it);
- a summary hook writes ``health`` (:func:`~tokenswarm.loadgen.health.summarise`) into every
  stage block of summary.json and for the whole run, and logs the advice when the load
  generator was saturated.

:data:`MONITOR` (this process's monitor, None on a master) and :data:`LOG` are what a live
progress line or the distributed worker table read.
"""

from __future__ import annotations

import logging
from typing import Any

from locust import events
from locust.runners import MasterRunner

from tokenswarm.loadgen.context import worker_name
from tokenswarm.loadgen.health import HealthLog, HealthMonitor
from tokenswarm.loadgen.runtime import RUNTIME

log = logging.getLogger("tokenswarm")
MESSAGE_KEY = "tokenswarm_health"
LOG = HealthLog()
MONITOR: HealthMonitor | None = None


@events.test_start.add_listener
def _start_monitor(environment: Any, **_: Any) -> None:
    global MONITOR
    LOG.samples.clear()
    if isinstance(environment.runner, MasterRunner):
        return
    if MONITOR is None:
        MONITOR = HealthMonitor(worker_name())
    MONITOR.drain()  # what came before this run is not part of it
    MONITOR.start()


@events.report_to_master.add_listener
def _report(client_id: str, data: dict[str, Any], **_: Any) -> None:
    if MONITOR is not None:
        data[MESSAGE_KEY] = [MONITOR.drain()]


@events.worker_report.add_listener
def _collect(client_id: str, data: dict[str, Any], **_: Any) -> None:
    LOG.samples.extend(data.get(MESSAGE_KEY) or ())


def _local_drain(_delta: dict[str, Any]) -> None:
    """A local run (this process is also the load process): its samples reach LOG every
    flush (1 s), as a worker's reach the master with each report, so stages and the progress
    line see per-interval lag and CPU rather than one sample of the whole run."""
    if MONITOR is not None:
        LOG.samples.append(MONITOR.drain())


def _on_summary(summary: dict[str, Any]) -> None:
    if MONITOR is not None:  # a local run: this process is also the load process
        LOG.samples.append(MONITOR.drain())
    spans = []
    for block in summary.get("stages", []):
        window = block.get("window_ns") or {}
        if window.get("start") is None or window.get("end") is None:
            continue
        span = (int(window["start"]), int(window["end"]))
        block["health"] = LOG.summarise(span, _itl_p50(block))
        spans.append(span)
        if block["health"]["saturated"]:
            log.warning("tokenswarm: stage %s: %s", block.get("name", "?"),
                        block["health"]["advice"])
    if spans:
        whole = (min(s for s, _ in spans), max(e for _, e in spans))
        overall = LOG.summarise(whole, _itl_p50(summary))
        summary["health"] = overall
        if overall["saturated"]:
            log.warning("tokenswarm: %s", overall["advice"])


def _itl_p50(block: dict[str, Any]) -> float | None:
    """The ITL p50 of a summary (or stage) block: the kernel-stamp lag limit scales with it."""
    value = ((block.get("metrics") or {}).get("itl_ms") or {}).get("p50")
    return float(value) if value else None


RUNTIME.summary_hooks.append(_on_summary)
RUNTIME.delta_listeners.append(_local_drain)
