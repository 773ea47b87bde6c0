"""Small builders for Grafana dashboard JSON (schemaVersion 42) with InfluxQL targets.

Plain dicts rather than a generator library: ``grafana-foundation-sdk`` has no InfluxDB query
type and its auto-layout overflowed the 24-column grid (INFLUX-GRAFANA-NOTES section 3.2), and
what matters is testable anyway: the JSON validates against Grafana's published dashboard
schema and every query runs against a real influxd. Every target is raw InfluxQL against the
``${datasource}`` variable, filtered by the template variables through :func:`where`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DATASOURCE = {"type": "influxdb", "uid": "${datasource}"}
SCHEMA_VERSION = 42
# Template variables and the tag each one filters; all are regex matches so "All" (.*) and
# multi-value selections ((a|b), escaped by Grafana) work with the same query text.
FILTERS = {"run_id": "run_id", "scenario": "scenario", "host": "host", "gpu": "gpu"}


def where(*variables: str, extra: str = "") -> str:
    """``WHERE $timeFilter AND "tag" =~ /^$var$/ ...`` for the given template variables."""
    parts = ["$timeFilter", *(f'"{FILTERS[v]}" =~ /^${v}$/' for v in variables)]
    if extra:
        parts.append(extra)
    return "WHERE " + " AND ".join(parts)


@dataclass(frozen=True)
class Query:
    """One InfluxQL target; ``alias`` may use ``$tag_<key>`` and ``$col``."""

    sql: str
    alias: str = ""
    table: bool = False

    def target(self, ref: str) -> dict[str, Any]:
        target: dict[str, Any] = {
            "refId": ref,
            "datasource": DATASOURCE,
            "query": self.sql,
            "rawQuery": True,
            "resultFormat": "table" if self.table else "time_series",
        }
        if self.alias:
            target["alias"] = self.alias
        return target


def panel(
    kind: str,
    title: str,
    queries: list[Query],
    grid: tuple[int, int, int, int],
    unit: str,
    description: str = "",
    options: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
    transformations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A panel at ``grid`` = (x, y, w, h); ids are assigned by :func:`dashboard`."""
    x, y, w, h = grid
    defaults: dict[str, Any] = {"unit": unit}
    if custom:
        defaults["custom"] = custom
    result: dict[str, Any] = {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [q.target(chr(ord("A") + i)) for i, q in enumerate(queries)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
    }
    if description:
        result["description"] = description
    if transformations:
        result["transformations"] = transformations
    return result


def timeseries(
    title: str,
    queries: list[Query],
    grid: tuple[int, int, int, int],
    unit: str,
    description: str = "",
    points: bool = False,
    transformations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    custom = (
        {"drawStyle": "points", "pointSize": 3}
        if points
        else {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 0,
            "spanNulls": False,
            "showPoints": "never",
        }
    )
    options = {
        "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom", "calcs": []},
        "tooltip": {"mode": "multi", "sort": "none"},
    }
    return panel(
        "timeseries",
        title,
        queries,
        grid,
        unit,
        description,
        options,
        custom,
        transformations,
    )


def stat(
    title: str,
    query: Query,
    grid: tuple[int, int, int, int],
    unit: str,
    calc: str,
    description: str = "",
) -> dict[str, Any]:
    """A single number; ``calc`` is the reducer over the range (an InfluxQL aggregate over no
    rows returns no series at all, so ``noValue`` shows 0 instead of "No data")."""
    options = {
        "reduceOptions": {"calcs": [calc], "fields": "", "values": False},
        "colorMode": "value",
        "graphMode": "area",
        "textMode": "value",
    }
    result = panel("stat", title, [query], grid, unit, description, options)
    result["fieldConfig"]["defaults"]["noValue"] = "0"
    return result


def table(
    title: str,
    queries: list[Query],
    grid: tuple[int, int, int, int],
    unit: str,
    description: str = "",
) -> dict[str, Any]:
    options = {"showHeader": True, "cellHeight": "sm"}
    return panel("table", title, queries, grid, unit, description, options)


def row(title: str, y: int) -> dict[str, Any]:
    return {
        "type": "row",
        "title": title,
        "collapsed": False,
        "panels": [],
        "id": 0,
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
    }


def query_variable(name: str, label: str, sql: str, multi: bool, sort: int = 1) -> dict[str, Any]:
    """A variable listing tag values; ``multi`` ones include All (regex ``.*``)."""
    variable: dict[str, Any] = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "query": sql,
        "definition": sql,
        "refresh": 2,
        "sort": sort,
        "multi": multi,
        "includeAll": multi,
    }
    if multi:
        variable["allValue"] = ".*"
        variable["current"] = {"text": "All", "value": "$__all"}
    return variable


def datasource_variable() -> dict[str, Any]:
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "InfluxDB",
        "query": "influxdb",
        "refresh": 1,
    }


def annotation(name: str, sql: str, color: str) -> dict[str, Any]:
    """An InfluxQL annotation: ``text`` column as text, ``kind`` tag as annotation tag."""
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": color,
        "target": {
            "refId": "Anno",
            "query": sql,
            "rawQuery": True,
            "fromAnnotations": True,
            "textColumn": "text",
            "tagsColumn": "kind",
        },
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[dict[str, Any]],
    variables: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
    links: list[dict[str, Any]],
) -> dict[str, Any]:
    """The dashboard object; panel ids are numbered in order (stable across regeneration)."""
    for number, item in enumerate(panels, start=1):
        item["id"] = number
    builtin = {
        "name": "Annotations & Alerts",
        "builtIn": 1,
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "type": "dashboard",
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["tokenswarm"],
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "refresh": "5s",
        "time": {"from": "now-30m", "to": "now"},
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": links,
        "templating": {"list": variables},
        "annotations": {"list": [builtin, *annotations]},
        "panels": panels,
    }


def dashboard_links() -> list[dict[str, Any]]:
    """Links to the other tokenswarm dashboards, keeping the time range and variables."""
    return [
        {
            "title": "tokenswarm",
            "type": "dashboards",
            "icon": "external link",
            "tooltip": "",
            "tags": ["tokenswarm"],
            "asDropdown": True,
            "targetBlank": False,
            "includeVars": True,
            "keepTime": True,
        }
    ]
