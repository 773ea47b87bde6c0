"""InfluxWriter against a scripted HTTP server on a real loopback socket (no mocked requests):
batching, retry/backoff, Retry-After, 4xx drops, the buffer bound, request shape, check()."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tokenswarm.influx.point import Point
from tokenswarm.influx.writer import InfluxConfig, InfluxError, InfluxWriter


class Scripted(ThreadingHTTPServer):
    """Answers writes from ``script`` (then 204), /ping with ``version``, /query with ``dbs``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: list[tuple[int, dict[str, str], str]] = []
        self.writes: list[dict[str, Any]] = []
        self.version = "1.6.7~rc0"
        self.dbs = ["tokenswarm"]
        self.query_status = 200
        self.gate = threading.Event()  # cleared: writes hang until set
        self.gate.set()
        self.arrived = threading.Event()  # a write request came in (before the gate)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def lines(self) -> list[str]:
        return [line for w in self.writes if w["status"] < 300 for line in w["lines"]]


class Handler(BaseHTTPRequestHandler):
    server: Scripted

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, headers: dict[str, str], body: str = "") -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_GET(self) -> None:
        self._reply(204, {"X-Influxdb-Version": self.server.version} if self.server.version else {})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        url = urlsplit(self.path)
        if url.path == "/query":
            values = [[name] for name in self.server.dbs]
            result = {"results": [{"series": [{"name": "databases", "values": values}]}]}
            self._reply(self.server.query_status, {}, json.dumps(result))
            return
        self.server.arrived.set()
        self.server.gate.wait(10)
        with self.server.lock:
            status, headers, text = (self.server.script or [(204, {}, "")]).pop(0)
            self.server.writes.append({
                "path": url.path, "params": parse_qs(url.query), "status": status,
                "auth": self.headers.get("Authorization"), "lines": body.split("\n"),
                "at": time.monotonic(),
            })
        self._reply(status, headers, text)


@pytest.fixture
def server() -> Iterator[Scripted]:
    srv = Scripted()
    threading.Thread(target=srv.serve_forever, args=(0.01,), daemon=True).start()
    yield srv
    srv.gate.set()
    srv.shutdown()
    srv.server_close()


def points(n: int, start: int = 0) -> list[Point]:
    return [Point("m", {"w": "1"}, {"seq": i}, 1_700_000_000_000_000_000 + i)
            for i in range(start, start + n)]


def seqs(lines: list[str]) -> list[int]:
    return [int(line.split("seq=")[1].split("i")[0]) for line in lines]


def make(server: Scripted, **kw: Any) -> InfluxWriter:
    kw = {"flush_interval_s": 0.02, "max_backoff_s": 0.05, "timeout_s": 2.0, **kw}
    return InfluxWriter(InfluxConfig(url=server.url, **kw))


def test_batches_are_at_most_batch_size_and_in_order(server):
    writer = make(server, batch_size=5, flush_interval_s=30)
    writer.write(points(12))
    writer.start()  # 2 full batches go at once; the rest only with flush (interval is 30 s)
    assert writer.flush(5)
    stats = writer.close()
    assert [len(w["lines"]) for w in server.writes] == [5, 5, 2]
    assert seqs(server.lines()) == list(range(12))
    assert (stats.points_written, stats.points_dropped, stats.buffered) == (12, 0, 0)
    assert server.writes[0]["path"] == "/write"
    assert server.writes[0]["params"] == {"db": ["tokenswarm"]}  # ns: no precision parameter


def test_5xx_are_retried_with_backoff_until_delivered(server, caplog):
    server.script = [(500, {}, '{"error":"boom"}'), (503, {}, ""), (502, {}, "")]
    writer = make(server)
    writer.start()
    with caplog.at_level(logging.WARNING, "tokenswarm.influx"):
        writer.write(points(3))
        assert writer.flush(5)
    stats = writer.close()
    assert [w["status"] for w in server.writes] == [500, 503, 502, 204]
    assert seqs(server.lines()) == [0, 1, 2]
    assert (stats.points_written, stats.retries, stats.batches_failed) == (3, 3, 0)
    assert stats.last_error == "HTTP 502 Bad Gateway"  # the latest failure
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(server.writes)]
    assert min(gaps) >= 0.04, gaps  # max_backoff_s=0.05: backed off, did not hammer
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages  # state changes only: down once, recovered once
    assert "is failing (HTTP 500 boom)" in messages[0] and "recovered" in messages[1]


def test_429_honours_retry_after(server):
    server.script = [(429, {"Retry-After": "1"}, "slow down")]
    writer = make(server, max_backoff_s=5)
    writer.start()
    writer.write(points(1))
    assert writer.flush(5)
    writer.close()
    gap = server.writes[1]["at"] - server.writes[0]["at"]
    assert 0.95 <= gap < 1.5, gap


def test_4xx_drops_the_batch_once_and_logs_the_server_message_once(server, caplog):
    missing = (404, {}, '{"error":"database not found: \\"tokenswarm\\""}')
    server.script = [missing, missing]
    writer = make(server, batch_size=2)
    writer.start()
    with caplog.at_level(logging.WARNING, "tokenswarm.influx"):
        writer.write(points(4))
        assert writer.flush(5)
    stats = writer.close()
    assert len(server.writes) == 2  # not retried
    assert (stats.points_written, stats.points_dropped, stats.batches_failed) == (0, 4, 2)
    assert stats.retries == 0
    assert [r.getMessage() for r in caplog.records] == [
        'InfluxDB refused a batch of 2 points (2 dropped, not retried): '
        'HTTP 404 database not found: "tokenswarm"'
    ]


def test_partial_write_counts_only_the_lines_the_server_dropped(server):
    server.script = [(400, {}, '{"error":"partial write: field type conflict: dropped=1"}')]
    writer = make(server)
    writer.start()
    writer.write(points(5))
    assert writer.flush(5)
    stats = writer.close()
    assert (stats.points_written, stats.points_dropped, stats.batches_failed) == (4, 1, 1)


def test_full_buffer_drops_the_oldest_and_counts_them(server):
    server.script = [(503, {}, "")] * 1000
    writer = make(server, max_buffer_points=10, batch_size=4)
    writer.write(points(25))  # not started: nothing can be in flight
    stats = writer.stats()
    assert (stats.buffered, stats.points_dropped) == (10, 15)
    server.script = []
    writer.start()
    assert writer.flush(5)
    stats = writer.close()
    assert seqs(server.lines()) == list(range(15, 25))
    assert (stats.points_written, stats.points_dropped) == (10, 15)


def test_overflow_during_a_slow_post_keeps_the_counts_exact(server):
    server.gate.clear()  # the first POST hangs while more points arrive
    writer = make(server, max_buffer_points=6, batch_size=4)
    writer.start()
    writer.write(points(4))
    assert server.arrived.wait(5)
    writer.write(points(6, start=4))  # 10 > 6: the 4 oldest (in flight) are pushed out
    server.gate.set()
    assert writer.flush(5)
    stats = writer.close()
    delivered = seqs(server.lines())
    assert sorted(set(delivered)) == list(range(10))  # the in-flight batch did arrive
    assert stats.points_written == len(delivered) == 10
    assert stats.points_dropped == 0


def test_write_never_waits_for_the_server(server):
    server.gate.clear()
    writer = make(server, batch_size=100)
    writer.start()
    batch = points(1000)
    began = time.perf_counter()
    for i in range(0, 1000, 10):
        writer.write(batch[i:i + 10])
    elapsed = time.perf_counter() - began
    assert elapsed < 0.25, elapsed
    server.gate.set()
    assert writer.flush(5)
    assert writer.close().points_written == 1000


def test_close_with_a_dead_server_returns_by_its_deadline_and_counts_drops():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    writer = InfluxWriter(InfluxConfig(url=url, flush_interval_s=0.01, max_backoff_s=0.05))
    writer.start()
    writer.write(points(50))
    began = time.monotonic()
    stats = writer.close(timeout_s=0.5)
    assert time.monotonic() - began < 0.7
    assert (stats.points_written, stats.points_dropped, stats.buffered) == (0, 50, 0)
    assert stats.retries >= 1 and "ConnectionError" in stats.last_error
    assert writer.close() == stats  # idempotent
    writer.write(points(2))  # after close: counted, never raises
    assert writer.stats().points_dropped == 52


def test_v2_request_shape_token_org_bucket(server):
    server.version = "2.7.11"
    writer = make(server, org="acme", bucket="load", token="s3cret")
    assert writer.check() == "2.7.11"
    writer.start()
    writer.write(points(2))
    assert writer.flush(5)
    writer.close()
    (request,) = server.writes
    assert request["path"] == "/api/v2/write"
    assert request["params"] == {"org": ["acme"], "bucket": ["load"], "precision": ["ns"]}
    assert request["auth"] == "Token s3cret"


def test_v1_with_username_password_uses_basic_auth(server):
    writer = make(server, username="u", password="p:w")
    assert writer.check() == "1.6.7~rc0"
    writer.start()
    writer.write(points(1))
    assert writer.flush(5)
    writer.close()
    assert server.writes[0]["auth"] == "Basic " + base64.b64encode(b"u:p:w").decode()
    assert server.writes[0]["path"] == "/write"


def test_auto_without_version_header_uses_v2_only_when_a_bucket_is_given(server):
    server.version = ""  # VictoriaMetrics sends none
    assert make(server, bucket="b").check() == ""
    assert make(server).check() == ""  # v1: no database check possible, none attempted


def test_check_explains_credentials_and_old_servers(server):
    server.query_status = 401
    with pytest.raises(InfluxError, match=r"refused the credentials \(HTTP 401.*check the token"):
        make(server, token="bad").check()
    with pytest.raises(InfluxError, match=r"has no /api/v2 endpoints.*use api v1 with a database"):
        make(server, api="v2", bucket="b").check()


def test_flush_without_start_reports_false(server):
    writer = make(server)
    writer.write(points(1))
    assert writer.flush(0.05) is False
    assert writer.close().points_dropped == 1
