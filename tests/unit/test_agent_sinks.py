"""Agent sinks and start-up: an unreachable InfluxDB is not fatal (buffer, re-check, send),
definite configuration errors are; the file sink skips field-less points; the final flush is
bounded by the InfluxDB timeout; auto mode without a GPU tool says so."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import free_port

from tokenswarm.influx.config import InfluxConfig
from tokenswarm.influx.point import Point
from tokenswarm.influx.writer import InfluxError
from tokenswarm.telemetry import detect
from tokenswarm.telemetry.agent import Agent
from tokenswarm.telemetry.config import AgentConfig
from tokenswarm.telemetry.sample import GpuSample
from tokenswarm.telemetry.sinks import FileSink, InfluxSink
from tokenswarm.telemetry.source import PollResult
from tokenswarm.telemetry.sources.registry import TOOLS


class FakeInflux:
    """A tiny InfluxDB 1.8 stand-in: /ping, SHOW DATABASES, /write (lines recorded)."""

    def __init__(self, port: int, ping_status: int = 204, databases: tuple[str, ...] = ("t",)):
        self.lines: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"") -> None:
                self.send_response(status)
                self.send_header("X-Influxdb-Version", "1.8.10")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._reply(ping_status, b'{"error":"unauthorized"}' if ping_status >= 400
                            else b"")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = urlsplit(self.path).path
                if path == "/query":
                    values = [[name] for name in databases]
                    result = {"results": [{"series": [{"name": "databases",
                                                        "values": values}]}]}
                    self._reply(200, json.dumps(result).encode())
                elif path == "/write":
                    assert parse_qs(urlsplit(self.path).query)["db"] == ["t"]
                    fake.lines += body.decode().splitlines()
                    self._reply(204)
                else:
                    self._reply(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _config(port: int, **kw: Any) -> InfluxConfig:
    return InfluxConfig(url=f"http://127.0.0.1:{port}", database="t", timeout_s=0.5,
                        max_backoff_s=0.2, flush_interval_s=0.05, **kw)


def _point(i: int) -> Point:
    return Point("gpu", {"run_id": "r"}, {"util_pct": float(i)}, 1000 + i)


def test_unreachable_influxdb_at_startup_warns_buffers_and_sends_once_it_answers(caplog):
    port = free_port()
    sink = InfluxSink(_config(port))
    caplog.set_level(logging.WARNING)
    sink.start()  # nothing listens: must not raise
    assert "is unreachable" in caplog.text and "starting anyway" in caplog.text
    assert "unreachable at start-up" in sink.describe()
    sink.write([_point(1), _point(2)])
    server = FakeInflux(port)
    try:
        deadline = time.monotonic() + 10
        while len(server.lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [line.split()[1] for line in server.lines] == ["util_pct=1.0", "util_pct=2.0"]
        assert "answers now" in caplog.text
        sink.write([_point(3)])
        assert sink.close(2.0) == {"written": 3, "dropped": 0, "failed_batches": 0}
    finally:
        server.stop()


def test_influxdb_still_down_at_exit_counts_the_buffer_as_dropped():
    sink = InfluxSink(_config(free_port()))
    sink.start()
    sink.write([_point(1), _point(2), _point(3)])
    start = time.monotonic()
    assert sink.close(0.3) == {"written": 0, "dropped": 3, "failed_batches": 0}
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(("ping", "databases", "message"), [
    (401, ("t",), "refused the credentials"),
    (204, ("other",), "database 't' does not exist"),
])
def test_definite_influx_configuration_errors_stay_fatal(ping: int, databases: tuple[str, ...],
                                                         message: str):
    port = free_port()
    server = FakeInflux(port, ping_status=ping, databases=databases)
    try:
        with pytest.raises(InfluxError, match=message):
            InfluxSink(_config(port)).start()
    finally:
        server.stop()


def test_file_sink_skips_points_without_fields(tmp_path: Path):
    sink = FileSink(tmp_path / "telemetry.jsonl")
    empty = Point("gpu", {"run_id": "r"}, {"power_w": None}, 5)
    sink.write([empty, _point(1), Point("host", {}, {}, 6)])
    assert sink.close(1.0) == {"file_points": 1}
    lines = (tmp_path / "telemetry.jsonl").read_text().splitlines()
    assert [json.loads(line)["fields"] for line in lines] == [{"util_pct": 1.0}]


def test_pci_bus_is_written_as_a_string_field_not_a_tag():
    sample = GpuSample("rocm-smi", "amd", "0", uuid="u", pci_bus="0000:0c:00.0",
                       fields={"util_pct": 1.0})
    point = sample.to_point("r", "h", 1)
    assert point.fields["pci_bus"] == "0000:0c:00.0" and "pci_bus" not in point.tags
    assert "pci_bus" not in GpuSample("rocm-smi", "amd", "0").to_point("r", "h", 1).fields


class RecordingSink:
    def __init__(self) -> None:
        self.close_timeout: float | None = None

    def describe(self) -> str:
        return "recording"

    def write(self, points: list[Point]) -> None:
        pass

    def close(self, timeout_s: float) -> dict[str, Any]:
        self.close_timeout = timeout_s
        return {}


class OnePoll:
    name = "x"

    def describe(self) -> str:
        return "x"

    def poll(self) -> PollResult:
        return PollResult()


def test_final_flush_is_bounded_by_the_flush_timeout_not_the_join_timeout():
    sink = RecordingSink()
    agent = Agent([OnePoll()], [sink], "r", "h", 0.05)
    agent.run(duration_s=0.1, join_timeout_s=10.0, flush_timeout_s=1.5)
    assert sink.close_timeout == 1.5


def test_auto_without_any_gpu_tool_warns(monkeypatch, tmp_path: Path, caplog):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(detect, "tools", lambda: {
        n: dataclasses.replace(s, search_dirs=(str(tmp_path / "none"),))
        for n, s in TOOLS.items()})
    caplog.set_level(logging.WARNING, "tokenswarm.agent")
    assert [s.name for s in detect.build_sources(AgentConfig())] == ["host"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert all(name in text for name in TOOLS) and "--sources host" in text
    caplog.clear()
    assert [s.name for s in detect.build_sources(AgentConfig(sources=["host"]))] == ["host"]
    assert not caplog.records
