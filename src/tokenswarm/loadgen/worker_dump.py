"""``--dump-records DIR``: every load process writes its raw per-request records (opt-in).

One JSON line per finished request (ok or failed, warm-up included: exactly what the process
hands to its collector) goes to ``DIR/<host>_<pid>.jsonl`` on the host that ran the request
(give each run its own DIR). Why: merged results can then be audited against what each worker
saw (the union of these files must equal the master's ``requests.csv`` and counters), and a
run can be re-analysed without trusting the merge. It costs one small buffered write per
request, so it is off by default.

Locust copies options to workers with the spawn message, so ``--dump-records`` given to the
master reaches every worker; the file is opened at ``test_start`` (options known by then) and
closed at ``test_stop``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from locust import events
from locust.runners import MasterRunner

from tokenswarm.collector import RequestRecord
from tokenswarm.loadgen.context import worker_name
from tokenswarm.loadgen.runtime import RUNTIME


class RecordDump:
    """The open dump file of this process, subscribed to ``RUNTIME.record_listeners``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] = path.open("w", encoding="utf-8")

    def write(self, record: RequestRecord) -> None:
        timing = record.timing
        self._file.write(
            json.dumps(
                {
                    "worker": record.worker,
                    "start_wall_ns": record.start_wall_ns,
                    "end_wall_ns": record.end_wall_ns,
                    "stage": record.stage,
                    "scenario": record.scenario,
                    "error_class": record.error_class,
                    "ttft_ms": timing.ttft_ms if timing else None,
                    "e2e_ms": timing.e2e_ms if timing else None,
                    "tpot_ms": timing.tpot_ms if timing else None,
                    "input_tokens": record.input_tokens,
                    "output_tokens": record.output_tokens,
                    "chunks": len(record.chunk_wall_ns),
                    "chunk_tokens": sum(record.chunk_tokens),
                }
            )
            + "\n"
        )

    def close(self) -> None:
        self._file.close()


_dump: RecordDump | None = None


@events.init_command_line_parser.add_listener
def _add_option(parser: Any, **_: Any) -> None:
    parser.add_argument(
        "--dump-records",
        env_var="TOKENSWARM_DUMP_RECORDS",
        default="",
        include_in_web_ui=False,
        help="write every request's raw record to DIR/<host>_<pid>.jsonl on the host that "
        "sent it (audits the merge across workers)",
    )


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    global _dump
    directory = getattr(environment.parsed_options, "dump_records", "")
    if not directory or isinstance(environment.runner, MasterRunner) or _dump is not None:
        return
    name = worker_name().replace(":", "_")
    _dump = RecordDump(Path(directory) / f"{name}.jsonl")
    RUNTIME.record_listeners.append(_dump.write)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    global _dump
    if _dump is not None:
        RUNTIME.record_listeners.remove(_dump.write)
        _dump.close()
        _dump = None
