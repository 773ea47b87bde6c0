"""Lean raw-socket asyncio clients for the simulator's tests and capacity benchmark.

Not the load tester: these exist to measure the simulator itself with as little client overhead
as possible (no HTTP library). :func:`stream` records the arrival time of every SSE event of one
request (for timing checks); :func:`closed_loop` keeps N streams busy back to back and counts the
token events that arrive inside a measurement window (``output_tps = token events in window /
window``, token-time accounting as in DESIGN.md section 3; one token per event, so use it with
``tokens_per_chunk`` 1).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import cast

import orjson

TOKEN_MARK = b'{"content":"'
END_MARK = b"data: [DONE]\n\n\r\n0\r\n\r\n"


def request_bytes(host: str, port: int, path: str, body: dict[str, object]) -> bytes:
    """A keep-alive HTTP/1.1 POST of ``body`` as JSON."""
    payload = orjson.dumps(body)
    head = (
        f"POST {path} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"accept: text/event-stream\r\ncontent-length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


@dataclass
class StreamResult:
    """One request: status, headers, and each SSE event's payload with its arrival time."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    t_send: float = 0.0  # perf_counter() just before the request was written
    events: list[tuple[float, bytes]] = field(default_factory=list)  # (perf_counter, payload)
    complete: bool = False  # the terminating zero-length chunk arrived
    body: bytes = b""  # non-chunked responses


async def stream(
    host: str,
    port: int,
    path: str,
    body: dict[str, object],
    timeout: float = 30.0,
    send_after: float = 0.0,
) -> StreamResult:
    """Send one request on a new connection and read the response to its end (or EOF).

    ``send_after`` seconds pass between connecting and sending, so the server has accepted the
    connection before the clock starts (as on a kept-alive connection).
    """
    reader, writer = await asyncio.open_connection(host, port)
    result = StreamResult()
    try:
        await asyncio.sleep(send_after)
        result.t_send = time.perf_counter()
        writer.write(request_bytes(host, port, path, body))
        await asyncio.wait_for(_read_response(reader, result), timeout)
    finally:
        writer.close()
    return result


async def _read_response(reader: asyncio.StreamReader, result: StreamResult) -> None:
    status_line = await reader.readline()
    result.status = int(status_line.split()[1])
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        result.headers[name.strip().lower()] = value.strip()
    if result.headers.get("transfer-encoding") != "chunked":
        result.body = await reader.readexactly(int(result.headers.get("content-length", "0")))
        result.complete = True
        return
    while True:
        size_line = await reader.readline()
        if not size_line:
            return  # connection closed mid-stream
        size = int(size_line.strip(), 16)
        data = await reader.readexactly(size + 2)
        if size == 0:
            result.complete = True
            return
        now = time.perf_counter()
        for event in data[:-2].split(b"\n\n"):
            if event.startswith(b"data: "):
                result.events.append((now, event[6:]))


class _LoopConnection(asyncio.Protocol):
    """One closed-loop stream: sends the next request as soon as the previous one ended."""

    def __init__(self, request: bytes, meter: _Meter) -> None:
        self.request = request
        self.meter = meter
        self.tail = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        # The kept tail is shorter than each mark, so a mark split across reads counts once.
        window = self.tail + data
        meter = self.meter
        now = time.perf_counter()
        if meter.start <= now < meter.stop:
            meter.tokens += window[-len(data) - len(TOKEN_MARK) + 1 :].count(TOKEN_MARK)
        if window.endswith(END_MARK):
            meter.requests += 1
            if now < meter.stop and self.transport is not None:
                self.transport.write(self.request)
            window = b""
        self.tail = window[-(len(END_MARK) - 1) :]

    def connection_lost(self, exc: Exception | None) -> None:
        self.meter.lost += 1


@dataclass
class _Meter:
    start: float
    stop: float
    tokens: int = 0
    requests: int = 0
    lost: int = 0


async def closed_loop(
    host: str,
    port: int,
    path: str,
    body: dict[str, object],
    streams: int,
    warmup: float,
    duration: float,
    ramp: float = 0.0,
) -> tuple[float, int]:
    """Output tokens/s over ``duration`` s after ``warmup`` s, and the requests completed.

    ``body`` must stream (``"stream": true``) with one token per event. Streams start evenly
    over ``ramp`` seconds: closed-loop streams started together stay in lockstep (same lengths),
    which is not the steady state of a real benchmark.
    """
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter()
    meter = _Meter(start=t0 + warmup, stop=t0 + warmup + duration)
    request = request_bytes(host, port, path, body)
    transports = []
    for _ in range(streams):
        transport, _protocol = await loop.create_connection(
            lambda: _LoopConnection(request, meter), host, port
        )
        transports.append(transport)
        await asyncio.sleep(ramp / streams)
    await asyncio.sleep(max(0.0, meter.stop - time.perf_counter()))
    for transport in transports:
        transport.close()
    return meter.tokens / duration, meter.requests
