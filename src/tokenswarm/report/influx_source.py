"""A run's GPU and engine telemetry read back from InfluxDB (``--influx-url``).

InfluxQL over the v1 ``/query`` endpoint (InfluxDB 1.x, 2.x with a DBRP mapping, 3.x):
``SELECT * FROM "gpu" WHERE "run_id" = '<id>'`` (and ``"engine"``), ns epochs, chunked
responses (one JSON object per line). Rows become the same point dicts as telemetry.jsonl.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from tokenswarm.errors import UserError
from tokenswarm.report.telemetry import Telemetry, from_points

TAGS = ("host", "gpu", "engine")


class InfluxSource:
    def __init__(self, url: str, database: str, token: str = "", timeout_s: float = 30.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise UserError(f"--influx-url must look like http://host:8086, got {url!r}")
        self.url = url.rstrip("/")
        self.database = database
        self.headers = {"Authorization": f"Token {token}"} if token else {}
        self.timeout_s = timeout_s

    def _select(self, measurement: str, run_id: str) -> list[dict[str, Any]]:
        escaped = run_id.replace("\\", "\\\\").replace("'", "\\'")
        query = f'SELECT * FROM "{measurement}" WHERE "run_id" = \'{escaped}\''
        try:
            response = requests.get(
                f"{self.url}/query",
                headers=self.headers,
                timeout=self.timeout_s,
                params={"db": self.database, "q": query, "epoch": "ns", "chunked": "true"},
            )
        except requests.RequestException as exc:
            raise UserError(
                f"InfluxDB at {self.url} is unreachable: {type(exc).__name__}"
            ) from None
        if response.status_code != 200:
            raise UserError(
                f"InfluxDB query at {self.url} failed: HTTP {response.status_code} "
                f"{response.text.strip()[:200]}"
            )
        points = []
        for line in response.text.splitlines():
            for result in json.loads(line).get("results", []):
                if "error" in result:
                    raise UserError(f"InfluxDB query failed: {result['error']}")
                for series in result.get("series", []):
                    points += _points(measurement, series)
        return points

    def read(self, run_id: str) -> Telemetry | None:
        """The run's gpu and engine points; None when InfluxDB holds none for it."""
        points = self._select("gpu", run_id) + self._select("engine", run_id)
        return from_points(points) if points else None


def _points(measurement: str, series: dict[str, Any]) -> list[dict[str, Any]]:
    columns = series["columns"]
    out = []
    for values in series.get("values", []):
        row = dict(zip(columns, values, strict=True))
        tags = {k: row.pop(k) for k in TAGS if row.get(k) is not None}
        out.append(
            {
                "measurement": measurement,
                "tags": tags,
                "time_ns": int(row.pop("time")),
                "fields": {k: v for k, v in row.items() if v is not None},
            }
        )
    return out
