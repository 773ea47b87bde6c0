"""Minimal HTTP/1.1 server protocol: keep-alive, Content-Length bodies, chunked responses.

One :class:`HttpConnection` per TCP connection (an :class:`asyncio.Protocol`, no coroutine per
request: cheaper than streams). Requests on a connection are handled one at a time; bytes of the
next request wait in the buffer until the current response has ended (``response_done``).
Streaming responses use ``Transfer-Encoding: chunked`` like uvicorn; others use Content-Length.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
LAST_CHUNK = b"0\r\n\r\n"
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
STREAM_HEADERS = (
    b"HTTP/1.1 200 OK\r\nserver: tokenswarm-sim\r\n"
    b"content-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\n\r\n"
)


@dataclass
class Request:
    """A parsed HTTP request."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def chunk(data: bytes) -> bytes:
    """``data`` framed as one HTTP chunk: hex length CRLF data CRLF."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def response(
    status: int,
    body: bytes = b"",
    content_type: str = "application/json",
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A complete response with Content-Length."""
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\nserver: tokenswarm-sim\r\n"
    if body:
        head += f"content-type: {content_type}\r\n"
    for name, value in extra_headers:
        head += f"{name}: {value}\r\n"
    head += f"content-length: {len(body)}\r\n\r\n"
    return head.encode() + body


Handler = Callable[["HttpConnection", Request], None]


class HttpConnection(asyncio.Protocol):
    """Parses requests and hands each to ``handler``; the handler writes the response.

    A handler that answers later (streaming) keeps ``busy`` set and calls :meth:`response_done`
    at the end; :attr:`on_lost` (set by the handler) is called if the peer goes away first.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._buf = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.keep_alive = True
        self.on_lost: Callable[[], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        callback, self.on_lost = self.on_lost, None
        if callback is not None:
            callback()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self.busy:
            self._parse()

    def write(self, data: bytes) -> None:
        """Write to the peer if still connected."""
        if self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        """Close the connection after the buffered bytes are sent (no terminating chunk)."""
        if self.transport is not None:
            self.transport.close()

    def respond(self, data: bytes) -> None:
        """Write a complete response and finish the request."""
        self.write(data)
        self.response_done()

    def response_done(self) -> None:
        """The current response is complete: close or serve the next buffered request."""
        self.busy = False
        self.on_lost = None
        if not self.keep_alive:
            self.close()
        elif self._buf:
            self._parse()

    def _parse(self) -> None:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > MAX_HEADER_BYTES:
                self._fail(413)
            return
        lines = self._buf[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._fail(400)
            return
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._fail(400 if length < 0 else 413)
            return
        if len(self._buf) < end + 4 + length:
            return
        body = self._buf[end + 4 : end + 4 + length]
        self._buf = self._buf[end + 4 + length :]
        connection = headers.get("connection", "").lower()
        http10 = parts[2] == "HTTP/1.0"
        self.keep_alive = connection != "close" and (not http10 or connection == "keep-alive")
        self.busy = True
        self._handler(self, Request(parts[0], parts[1].split("?", 1)[0], headers, body))

    def _fail(self, status: int) -> None:
        self._buf = b""
        self.keep_alive = False
        self.respond(response(status))
