"""The HTTP conversation with InfluxDB: ``/ping``, ``/query`` and the two write endpoints.

Plain ``requests`` calls, no ``influxdb-client``: its batching pipeline deadlocks under gevent
when imported before monkey patching, and its ``flush()`` does nothing (DESIGN.md section 5).
This module knows the servers' quirks (1.x answers 404 for a missing database and for every
``/api/v2`` path; VictoriaMetrics sends no version on ``/ping``) and turns each response into an
:class:`Outcome` the writer can act on without knowing HTTP.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

import requests

from tokenswarm.errors import UserError
from tokenswarm.influx.config import InfluxConfig

_PARTIAL_DROPPED = re.compile(r"dropped=(\d+)")
_VERSION = re.compile(r"(\d+)\.(\d+)")


class InfluxError(UserError):
    """InfluxDB cannot take our points (unreachable, credentials, missing database): one line
    that says what to fix."""


@dataclass(frozen=True)
class Outcome:
    """Result of one POST: ``ok`` (stored), ``retry`` (server down or overloaded: keep the lines)
    or ``reject`` (the server refused these lines: retrying cannot help)."""

    kind: Literal["ok", "retry", "reject"]
    message: str = ""
    retry_after_s: float | None = None
    dropped: int | None = None


def backoff_s(attempt: int, cap_s: float, base_s: float = 0.25) -> float:
    """Delay before retry ``attempt`` (1, 2, ...): doubling from ``base_s``, capped at ``cap_s``.

    Doubling keeps a dead server from being hammered while a short blip costs well under a
    second; the cap bounds how stale the data is once the server is back.
    """
    return min(cap_s, base_s * 2.0 ** min(max(attempt - 1, 0), 30))


def retry_after_s(header: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not header:
        return None
    text = header.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def server_message(response: requests.Response) -> str:
    """The server's error text on one line: 1.x ``{"error"}``, 2.x ``{"message"}``, or body."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    text = ""
    if isinstance(body, dict):
        text = str(body.get("error") or body.get("message") or "")
    text = text or response.text or response.reason or ""
    return " ".join(text.split())[:300]


class InfluxHttp:
    """Requests against one server, with the config's auth; resolves which write API to use."""

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self.api: str | None = None if config.api == "auto" else config.api
        self._headers: dict[str, str] = {}
        if config.token:
            # 2.x and 3.x accept 'Token' on both the v1-compat and the v2 endpoints.
            self._headers["Authorization"] = f"Token {config.token}"
        self._auth = (
            (config.username, config.password) if config.username and not config.token else None
        )
        self._session = requests.Session()

    def _request(
        self, method: str, path: str, timeout_s: float, headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> requests.Response:
        return self._session.request(
            method, self.config.base_url + path, headers={**self._headers, **(headers or {})},
            auth=self._auth, timeout=timeout_s, **kw,
        )

    def ping(self, timeout_s: float) -> str:
        """Server version from ``/ping`` ('' when the server does not say, e.g. VictoriaMetrics);
        also settles ``api`` when it was 'auto'."""
        response = self._request("GET", "/ping", timeout_s)
        if response.status_code in (401, 403):
            raise InfluxError(self._auth_error(response))
        if response.status_code >= 300:
            raise InfluxError(
                f"{self.config.base_url}/ping answered HTTP {response.status_code}: "
                "is this an InfluxDB server?"
            )
        version = response.headers.get("X-Influxdb-Version", "")
        if self.api is None:
            self.api = "v1" if version.startswith("1.") or not self.config.bucket else "v2"
        return version

    def check(self) -> str:
        """Verify that writes can succeed; return the server version (see ``InfluxWriter``)."""
        url, timeout = self.config.base_url, self.config.timeout_s
        try:
            version = self.ping(timeout)
            match = _VERSION.match(version)
            if self.api == "v2" and match and (int(match[1]), int(match[2])) < (1, 8):
                raise InfluxError(
                    f"InfluxDB {version} at {url} has no /api/v2 endpoints (they arrived in "
                    "1.8): use api v1 with a database instead of org/bucket"
                )
            if self.api == "v1" and version:
                self._check_database(timeout)
        except requests.RequestException as exc:
            raise InfluxError(f"InfluxDB at {url} is unreachable: {_short(exc)}") from None
        return version

    def _check_database(self, timeout_s: float) -> None:
        db = self.config.database
        names = self._query("SHOW DATABASES", timeout_s)
        if db in names:
            return
        if self.config.create_database:
            self._query(f'CREATE DATABASE "{_quote_ident(db)}"', timeout_s)
            return
        raise InfluxError(
            f"InfluxDB database {db!r} does not exist at {self.config.base_url}: create it "
            f'(influx -execute \'CREATE DATABASE "{db}"\') or set create_database'
        )

    def _query(self, statement: str, timeout_s: float) -> list[str]:
        """Run one InfluxQL statement (POST: CREATE is not allowed via GET); first column."""
        response = self._request("POST", "/query", timeout_s, data={"q": statement})
        if response.status_code in (401, 403):
            raise InfluxError(self._auth_error(response))
        if response.status_code != 200:
            raise InfluxError(
                f"InfluxDB {statement!r} failed at {self.config.base_url}: "
                f"HTTP {response.status_code} {server_message(response)}"
            )
        result = (json.loads(response.text).get("results") or [{}])[0]
        if "error" in result:
            raise InfluxError(f"InfluxDB {statement!r} failed: {result['error']}")
        return [row[0] for series in result.get("series", []) for row in series.get("values", [])]

    def _auth_error(self, response: requests.Response) -> str:
        what = "token" if self.config.token else "username/password"
        return (
            f"InfluxDB at {self.config.base_url} refused the credentials (HTTP "
            f"{response.status_code} {server_message(response)}): check the {what}"
        )

    def write_path(self) -> tuple[str, dict[str, str]]:
        """Endpoint and query parameters for the resolved API (no precision: ns is default)."""
        if self.api == "v2":
            params = {"bucket": self.config.bucket, "precision": "ns"}
            if self.config.org:
                params["org"] = self.config.org
            return "/api/v2/write", params
        return "/write", {"db": self.config.database}

    def post(self, lines: list[str], timeout_s: float) -> Outcome:
        """POST one batch; connection errors and timeouts become ``retry``."""
        try:
            if self.api is None:
                self.ping(timeout_s)
            path, params = self.write_path()
            response = self._request(
                "POST", path, timeout_s, headers={"Content-Type": "text/plain; charset=utf-8"},
                params=params, data="\n".join(lines).encode(),
            )
        except InfluxError as exc:
            return Outcome("retry", str(exc))
        except requests.RequestException as exc:
            return Outcome("retry", _short(exc))
        status = response.status_code
        if status < 300:
            return Outcome("ok")
        message = f"HTTP {status} {server_message(response)}"
        if status == 429 or status >= 500:
            return Outcome("retry", message, retry_after_s(response.headers.get("Retry-After")))
        match = _PARTIAL_DROPPED.search(message)
        return Outcome("reject", message, dropped=int(match[1]) if match else None)

    def close(self) -> None:
        self._session.close()


def _quote_ident(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def _short(exc: BaseException) -> str:
    """A requests exception as one short line (they nest urllib3 reprs several levels deep)."""
    kind = type(exc).__name__
    text = str(exc)
    inner = re.search(r"\(Caused by \w+\((?:'[^']*', )?['\"]?(.*?)['\"]?\)\)", text)
    if inner:
        text = inner[1]
    return f"{kind}: {' '.join(text.split())[:200]}"
