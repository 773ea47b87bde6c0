"""The committed dashboards: in step with the code, valid against Grafana's published schema,
laid out on the grid, and querying only what the InfluxDB schema registers (and all of it)."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from grafana_queries import DASHBOARD_DIR, dashboards, influxql_targets, queried_fields
from helpers import REPO

from tokenswarm.grafana import DASHBOARDS, dashboard_url
from tokenswarm.grafana.__main__ import main, render
from tokenswarm.influx import schema

SCHEMA_FILE = REPO.parent / "shared" / "schemas" / "grafana-dashboard.schema.json"
UIDS = {"llm-load.json": "tokenswarm-llm-load", "gpu-telemetry.json": "tokenswarm-gpu",
        "correlation.json": "tokenswarm-correlation"}
VARIABLES = {"llm-load.json": {"run_id", "scenario"}, "gpu-telemetry.json": {"run_id", "host",
             "gpu"}, "correlation.json": {"run_id", "scenario", "host"}}


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_committed_json_is_what_the_code_generates(name: str):
    path = DASHBOARD_DIR / name
    assert path.read_text(encoding="utf-8") == render(name), (
        f"{path} is stale: run .venv/bin/python -m tokenswarm.grafana")


def test_check_mode_reports_a_stale_file(tmp_path, capsys):
    assert main([str(tmp_path)]) == 0
    assert main(["--check", str(tmp_path)]) == 0
    (tmp_path / "llm-load.json").write_text("{}")
    assert main(["--check", str(tmp_path)]) == 1
    assert "llm-load.json" in capsys.readouterr().err


def test_every_dashboard_validates_against_the_published_schema():
    if not SCHEMA_FILE.is_file():
        pytest.skip(f"{SCHEMA_FILE} absent (fresh clone without ../shared)")
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text()))
    for name, board in dashboards().items():
        errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in
                  validator.iter_errors(board)]
        assert not errors, (name, errors[:5])


def _overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
            and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_layout_ids_uids_and_variables(name: str):
    board = dashboards()[name]
    assert board["uid"] == UIDS[name]
    panels = board["panels"]
    assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
    grids = [p["gridPos"] for p in panels]
    assert all(g["x"] + g["w"] <= 24 for g in grids)
    clashes = [(i, j) for i, a in enumerate(grids) for j, b in enumerate(grids[:i])
               if _overlap(a, b)]
    assert not clashes
    names = {v["name"] for v in board["templating"]["list"]}
    assert names == {"datasource"} | VARIABLES[name]
    for panel in panels:
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)) and panel["datasource"]["uid"] == "${datasource}"


def test_every_query_filters_time_and_run():
    for name, sql in influxql_targets():
        assert "$timeFilter" in sql, (name, sql)
        assert '"run_id" =~ /^$run_id$/' in sql, (name, sql)
        assert "${DS_" not in sql and "__inputs" not in sql


def test_dashboards_query_exactly_the_schema():
    """Every measurement and field a panel reads is registered, and every registered field is
    on some dashboard (a field nobody can see is a field nobody checks)."""
    queried = queried_fields()
    unknown = {(m, f) for m, fields in queried.items() for f in fields
               if m not in schema.MEASUREMENTS or f not in schema.MEASUREMENTS[m].field_names}
    assert not unknown
    unshown = {(m.name, f) for m in schema.MEASUREMENTS.values() for f in m.field_names
               if f not in queried.get(m.name, set())}
    assert not unshown


def test_query_field_extraction_sees_subqueries_and_ignores_aliases():
    sql = ('SELECT sum("v") AS "total" FROM (SELECT mean("power_w") AS "v" FROM "gpu" '
           'WHERE $timeFilter AND "host" =~ /^$host$/ GROUP BY time(1s), "host", "gpu")')
    assert queried_fields([sql]) == {"gpu": {"power_w"}}


def test_dashboard_url_carries_the_run_and_its_time_range():
    url = dashboard_url("http://grafana:3000/", "run 1", 1_700_000_000_123_456_789,
                        1_700_000_060_000_000_001)
    assert url.startswith("http://grafana:3000/d/tokenswarm-llm-load/?")
    params = dict(re.findall(r"([^?&=]+)=([^&]+)", url.split("?", 1)[1]))
    assert params == {"var-run_id": "run+1", "from": str(1_700_000_000_123 - 10_000),
                      "to": str(1_700_000_060_001 + 10_000)}


def test_annotations_read_the_event_measurement():
    for board in dashboards().values():
        annotations: list[dict[str, Any]] = board["annotations"]["list"]
        ours = [a for a in annotations if "target" in a]
        assert len(ours) == 1
        assert f'FROM "{schema.EVENT.name}"' in ours[0]["target"]["query"]
        assert ours[0]["target"]["textColumn"] == "text"
