"""A real run writes to a real influxd: the simulated engine, the telemetry agent on the
simulated GPU, and a distributed load run (master + 2 workers) with the InfluxDB sink on. The
points then answer every dashboard query, and match the run's own result files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from grafana_queries import annotation_queries, expand, influxql_targets, variable_queries
from influxd import Influxd, InfluxDb

from tokenswarm.influx import schema

pytestmark = pytest.mark.integration
RUN_ID = "influx-e2e"
TYPES = {"float": "float", "int": "integer", "str": "string"}


@dataclass
class Run:
    db: InfluxDb
    run_dir: Path
    output: str
    returncode: int

    def summary(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "summary.json").read_text())

    def csv(self) -> pd.DataFrame:
        return pd.read_csv(self.run_dir / "requests.csv")


SWEEP = """
sim:
  settings: {max_num_seqs: 6, base_ms: 8, fault_500: 0.05}
load: {duration: 3s, warmup: 1s, workers: 2, stop_timeout: 10s}
scenarios:
  - {name: tiny, input_tokens: 64, output_tokens: 48, concurrency: [4, 10]}
hardware: {accelerators: 2}
telemetry: {interval: 0.5}
influx: {url: "%(url)s", database: "%(db)s"}
report: {enabled: false}
results_dir: "%(results)s"
run_id: %(run_id)s
"""


@pytest.fixture(scope="module")
def run(influxd: Influxd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """A 2-level sweep against the simulator (a small batch so requests queue, 5 % of them
    answered 500), with the telemetry agent on 2 simulated GPUs and 2 worker processes."""
    tmp = tmp_path_factory.mktemp("influx-sweep")
    db = InfluxDb(influxd.url, f"t_{uuid.uuid4().hex[:12]}").create()
    config = tmp / "sweep.yaml"
    config.write_text(SWEEP % {"url": db.url, "db": db.name, "results": tmp / "r",
                               "run_id": RUN_ID})
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSWARM_")}
    proc = subprocess.run([sys.executable, "-m", "tokenswarm", "sweep", "--config", str(config)],
                          env=env, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)
    output = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), output[-4000:]  # 1: the injected 500s failed requests
    assert (tmp / "r" / RUN_ID / "summary.json").is_file(), output[-4000:]
    yield Run(db, tmp / "r" / RUN_ID, output, proc.returncode)


def _events(run: Run) -> dict[str, list[int]]:
    events: dict[str, list[int]] = {}
    for row in run.db.query(f'SELECT "text", "kind" FROM "{schema.EVENT.name}"'):
        events.setdefault(row["kind"], []).append(row["time"])
    return events


def test_one_request_point_per_request_in_requests_csv(run: Run):
    csv = run.csv()
    assert run.db.count(schema.REQUEST.name, "users") == len(csv) > 20, run.output[-3000:]
    rows = run.db.query(f'SELECT count("users") FROM "{schema.REQUEST.name}" GROUP BY "status"')
    by_status = {r["status"]: r["count"] for r in rows}
    assert by_status.get("http_500", 0) == (csv["error_class"] == "http_500").sum() > 0
    assert by_status["ok"] == (csv["status"] == "ok").sum()
    workers = run.db.query(f'SHOW TAG VALUES FROM "{schema.REQUEST.name}" WITH KEY = "worker"')
    assert len(workers) == 2  # both worker processes wrote their own requests


def test_one_load_point_per_second_of_the_run(run: Run):
    events = _events(run)
    assert {k: len(v) for k, v in events.items()} == {
        "run_start": 1, "stage_start": 2, "stage_measure": 2, "stage_stop": 2, "run_stop": 1}
    stages = {r["value"] for r in run.db.query(
        f'SHOW TAG VALUES FROM "{schema.LOAD.name}" WITH KEY = "stage"')}
    assert stages == {"tiny@4", "tiny@10"}
    start_s, stop_s = events["run_start"][0] // 10**9, -(-events["run_stop"][0] // 10**9)
    rows = run.db.query(f'SELECT * FROM "{schema.LOAD.name}"')
    seconds = [r["time"] // 10**9 for r in rows]
    assert seconds == list(range(start_s, stop_s)), (start_s, stop_s, seconds)
    assert all(r["time"] % 10**9 == 0 and r["run_id"] == RUN_ID for r in rows)
    # token-time accounting: the series holds every output token of the run, exactly
    csv = run.csv()
    assert sum(r["output_tps"] for r in rows) == pytest.approx(csv["output_tokens"].sum())
    steady = [r for r in rows if r["rps"] > 0]
    assert max(r["users"] for r in rows) == 10 and steady
    assert any(r.get("ttft_p99_ms") for r in rows) and sum(r["errors"] for r in rows) > 0


def test_every_point_written_conforms_to_the_schema(run: Run):
    measurements = {r["name"] for r in run.db.query("SHOW MEASUREMENTS")}
    assert measurements == set(schema.MEASUREMENTS)
    for name in measurements:
        m = schema.MEASUREMENTS[name]
        fields = {r["fieldKey"]: r["fieldType"] for r in
                  run.db.query(f'SHOW FIELD KEYS FROM "{name}"')}
        assert {k: TYPES[m.field(k).kind] for k in fields} == fields, name
        tags = {r["tagKey"] for r in run.db.query(f'SHOW TAG KEYS FROM "{name}"')}
        assert tags <= set(m.tags), (name, tags - set(m.tags))


def test_summary_reports_what_reached_influxdb(run: Run):
    # the run's Grafana link: its run id and its time range
    assert f"/d/tokenswarm-llm-load/?var-run_id={RUN_ID}&from=" in run.output
    block = run.summary()["influx"]
    assert block["points_dropped"] == 0 and block["errors"] == 0, block
    assert block["processes"] == 3 and block["workers_unreported"] == []
    load_side = sum(run.db.count(m, f) for m, f in (
        (schema.REQUEST.name, "users"), (schema.LOAD.name, "users"), (schema.EVENT.name, "text")))
    loadgen_hosts = run.db.query(f'SELECT count("process_cpu_pct") FROM "{schema.HOST.name}" '
                                 "WHERE \"role\" = 'loadgen'")
    assert block["points_written"] == load_side + loadgen_hosts[0]["count"]
    assert "InfluxDB" in run.output and f"{block['points_written']} points written" in run.output


def _values(run: Run) -> tuple[int, int, dict[str, str | list[str]]]:
    events = _events(run)
    from_ms = events["run_start"][0] // 10**6 - 2000
    to_ms = events["run_stop"][0] // 10**6 + 2000
    return from_ms, to_ms, {"run_id": RUN_ID, "scenario": ".*", "host": ".*", "gpu": ".*"}


def _has_data(run: Run, sql: str) -> bool:
    results = run.db.query(sql)
    return any(v is not None for row in results for k, v in row.items() if k != "time")


@pytest.mark.parametrize("interval_s", [1, 5])
def test_every_dashboard_query_returns_data_for_the_run(run: Run, interval_s: int):
    from_ms, to_ms, values = _values(run)
    empty = [(name, sql) for name, sql in influxql_targets()
             if not _has_data(run, expand(sql, from_ms, to_ms, interval_s, values))]
    assert not empty


def test_variables_and_annotations_resolve(run: Run):
    from_ms, to_ms, values = _values(run)
    for board, name, sql in variable_queries():
        found = {r["value"] for r in run.db.query(expand(sql, from_ms, to_ms, 1, values))}
        assert found, (board, name)
        if name == "run_id":
            assert found == {RUN_ID}
    gpus = run.db.query(f'SHOW TAG VALUES FROM "{schema.GPU.name}" WITH KEY = "gpu"')
    picked = {**values, "gpu": [r["value"] for r in gpus]}  # a multi-value selection: (0|1)
    assert len(picked["gpu"]) == 2
    for name, sql in influxql_targets():
        if "$gpu" in sql:
            assert _has_data(run, expand(sql, from_ms, to_ms, 1, picked)), name
    for board, sql in annotation_queries():
        rows = run.db.query(expand(sql, from_ms, to_ms, 1, values))
        assert len(rows) == 8 and all(r["text"] for r in rows), board
