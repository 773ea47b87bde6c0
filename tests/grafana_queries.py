"""The InfluxQL inside the committed dashboards, and Grafana's macro expansion for running it.

Grafana's backend expands ``$timeFilter`` to ``time >= <from>ms and time <= <to>ms`` and
``$__interval``/``$__interval_ms`` to the panel interval (pkg/tsdb/influxdb/models/query.go);
template variables in regex context become the value, ``(a|b)`` for several, or the
variable's ``allValue`` (``.*``) for All. :func:`expand` does the same, so the tests run
exactly what Grafana would send.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from helpers import REPO

from tokenswarm.influx import schema

DASHBOARD_DIR = REPO / "grafana" / "dashboards"
_FROM = re.compile(r'FROM "([^"]+)"')
_QUOTED = re.compile(r'"([^"]+)"')
_ALIAS = re.compile(r'AS "([^"]+)"')


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def influxql_targets() -> list[tuple[str, str]]:
    """(``dashboard/panel``, query) of every panel target."""
    return [(f"{name}/{panel['title']}", target["query"])
            for name, board in dashboards().items() for panel in board["panels"]
            for target in panel.get("targets", [])]


def variable_queries() -> list[tuple[str, str, str]]:
    """(dashboard, variable name, query) of every query variable."""
    return [(name, v["name"], v["query"]) for name, board in dashboards().items()
            for v in board["templating"]["list"] if v["type"] == "query"]


def annotation_queries() -> list[tuple[str, str]]:
    return [(name, a["target"]["query"]) for name, board in dashboards().items()
            for a in board["annotations"]["list"] if "target" in a]


def queried_fields(queries: Iterable[str] | None = None) -> dict[str, set[str]]:
    """measurement -> fields read: quoted identifiers that are neither the measurement, one of
    its tags, nor a non-field alias of the query (subqueries: the innermost FROM counts)."""
    if queries is None:
        queries = [q for _, q in influxql_targets()] + [q for _, q in annotation_queries()]
    found: dict[str, set[str]] = {}
    for sql in queries:
        measurements = _FROM.findall(sql)
        measurement = measurements[-1]
        known = schema.MEASUREMENTS.get(measurement)
        tags, fields = (set(known.tags), set(known.field_names)) if known else (set(), set())
        outer_refs = set(_ALIAS.findall(sql)) - fields  # sum("v") over a subquery's "v"
        names = set(_QUOTED.findall(_ALIAS.sub("", sql))) - outer_refs - tags - set(measurements)
        found.setdefault(measurement, set()).update(names)
    return found


def expand(sql: str, from_ms: int, to_ms: int, interval_s: int,
           values: dict[str, str | list[str]]) -> str:
    """``sql`` as Grafana sends it: macros, then ``$var`` (longest names first)."""
    sql = sql.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    sql = sql.replace("$__interval_ms", str(interval_s * 1000))
    sql = sql.replace("$__interval", f"{interval_s}s")
    for name in sorted(values, key=len, reverse=True):
        value = values[name]
        text = value if isinstance(value, str) else (
            value[0] if len(value) == 1 else "(" + "|".join(map(re.escape, value)) + ")")
        sql = sql.replace("$" + name, text)
    assert not re.search(r"\$\w", sql), sql  # every macro and variable was replaced
    return sql
