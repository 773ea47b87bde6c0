"""One keep-alive HTTP/1.1 client connection over a gevent socket, without an HTTP library.

Why not geventhttpclient: its response parser costs ~7 us per SSE event and its ``readline``
hides when the bytes arrived. Here every read is one ``recv``/``recvmsg`` (with the kernel's
arrival stamp where available, :mod:`tokenswarm.kernel_timestamps`) and the body is de-framed
in place: ``Transfer-Encoding: chunked``, ``Content-Length``, or read-until-close.

Plain TCP: after connecting, the socket leaves gevent's wrapper and is used non-blocking with
one read and one write watcher on the gevent hub, so a read costs one ``recvmsg`` and one
wait (gevent's socket would also try a failing ``recv`` and create a timeout object per wait).
Timeouts are the caller's (watchdog timers: :mod:`tokenswarm.loadgen.stream_client`). TLS
sockets stay gevent's (their decrypted bytes may be buffered where no watcher sees them).

The response head (status line + headers, at most ``MAX_HEAD_BYTES``) is parsed once; header
names are lower-cased. A connection is reusable after a response whose body was read to its
end and that did not say ``Connection: close`` (HTTP/1.0 only with ``keep-alive``).
"""

from __future__ import annotations

import _socket
import socket
import sys
from collections.abc import Callable
from functools import partial

from gevent import get_hub
from gevent import socket as gsocket
from gevent import ssl as gssl
from gevent.hub import Waiter

from tokenswarm.kernel_timestamps import Receiver, enable

MAX_HEAD_BYTES = 64 * 1024


class ProtocolError(Exception):
    """The peer's bytes are not a valid HTTP/1.1 response."""


class StaleConnection(ConnectionError):
    """A reused connection was closed by the peer before any byte of the response."""


class Connection:
    """A TCP (or TLS) connection; one request at a time."""

    def __init__(self, host: str, port: int, tls: bool, connect_timeout: float) -> None:
        gsock = gsocket.create_connection((host, port), timeout=connect_timeout)
        gsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._watchers: tuple = ()
        if tls:
            self.sock = gssl.create_default_context().wrap_socket(gsock, server_hostname=host)
            self.sock.settimeout(None)
            self.rx = Receiver(self.sock, kernel=False)
        else:
            family = gsock.family
            self.sock = _socket.socket(family, socket.SOCK_STREAM, 0, gsock.detach())
            self.sock.setblocking(False)
            hub = get_hub()
            fd = self.sock.fileno()
            self._watchers = (hub.loop.io(fd, 1), hub.loop.io(fd, 2))
            self.rx = Receiver(self.sock, enable(self.sock), partial(hub.wait, self._watchers[0]))
        self.used = False  # served a response before: the peer may have closed it since
        self.ended = False  # the current body was read to its end
        self.reusable = False
        self._raw = b""  # received bytes not consumed yet
        self._raw_ns = 0
        self._fresh = False  # _raw follows the head and was not de-framed yet
        self._mode = ""  # "chunked" | "length" | "close"
        self._left = 0  # bytes left in the current chunk (chunked) or in the body (length)
        self._skip = 0  # CRLF bytes still to skip after a chunk's data
        self._trailer = False  # the last chunk was seen: skipping to the end of the trailers

    def close(self) -> None:
        for watcher in self._watchers:
            watcher.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        """Write a request; the time sync for kernel stamps happens here."""
        self.rx.sync()
        self.ended = self.reusable = self._fresh = False
        self._raw = b""
        if not self._watchers:
            self.sock.sendall(data)
            return
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view) :]
            except BlockingIOError:
                get_hub().wait(self._watchers[1])

    def read_head(self) -> tuple[int, dict[str, str]]:
        """The response's status and headers (names lower-cased)."""
        raw = self._raw
        ns = self._raw_ns
        while (end := raw.find(b"\r\n\r\n")) < 0:
            if len(raw) > MAX_HEAD_BYTES:
                raise ProtocolError("response head larger than 64 KiB")
            try:
                data, ns = self.rx.recv()
            except ConnectionResetError:
                if self.used and not raw:
                    raise StaleConnection("connection reset before the response") from None
                raise
            if not data:
                if self.used and not raw:
                    raise StaleConnection("connection closed before the response")
                raise ConnectionError("connection closed inside the response head")
            raw += data
        self.used = True
        lines = raw[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {lines[0][:80]!r}")
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"bad header line {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = "close" not in connection and (
            parts[0] != "HTTP/1.0" or "keep-alive" in connection
        )
        self._raw, self._raw_ns = raw[end + 4 :], ns
        self._fresh = bool(self._raw)
        self._frame(headers, keep_alive)
        return int(parts[1]), headers

    def _frame(self, headers: dict[str, str], keep_alive: bool) -> None:
        self._skip, self._trailer = 0, False
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._mode, self._left = "chunked", 0
        elif "content-length" in headers:
            try:
                self._mode, self._left = "length", int(headers["content-length"])
            except ValueError:
                raise ProtocolError("bad Content-Length") from None
            if self._left == 0:
                self._end(keep_alive)
        else:
            self._mode = "close"
        self.reusable = keep_alive and self._mode != "close"

    def _end(self, reusable: bool) -> None:
        self.ended = True
        self.reusable = reusable and not self._raw

    def read_body(self) -> tuple[bytes, int]:
        """The next body bytes and their arrival; b"" at the end of the body or at EOF
        (``ended`` tells which)."""
        while not self.ended:
            if self._fresh:
                data, ns = self._raw, self._raw_ns
                self._raw, self._fresh = b"", False
            else:
                new, ns = self.rx.recv()
                if not new:
                    if self._mode == "close":
                        self.ended = True
                    self.reusable = False
                    return b"", ns
                data = self._raw + new if self._raw else new  # after an incomplete size line
                self._raw = b""
            body = self._chunked(data) if self._mode == "chunked" else self._plain(data)
            if body:
                return body, ns
        return b"", self._raw_ns

    def pump(self, on_body: Callable[[bytes, int], None]) -> None:
        """Read the body to its end (or EOF), calling ``on_body(data, arrival_ns)`` per read.

        Plain TCP: the reads and ``on_body`` run inside the hub's readable-socket callback and
        the calling greenlet sleeps until the body ended, so a token event costs no greenlet
        switch (the way an asyncio protocol's ``data_received`` works). An exception (also one
        thrown into the greenlet by a timer) ends the pump in the calling greenlet. TLS: a
        plain read loop.
        """
        if not self._watchers:
            while True:
                data, ns = self.read_body()
                if not data:
                    return
                on_body(data, ns)
        chunked = self._mode == "chunked"
        if self._fresh:  # body bytes that came with the head
            data, self._raw, self._fresh = self._raw, b"", False
            body = self._chunked(data) if chunked else self._plain(data)
            if body:
                on_body(body, self._raw_ns)
        if self.ended:
            return
        watcher = self._watchers[0]
        waiter = Waiter(get_hub())
        read = self.rx.read_ready

        def readable() -> None:
            try:
                try:
                    new, ns = read()
                except BlockingIOError:
                    return
                if not new:
                    self.ended = self._mode == "close"
                    self.reusable = False
                    watcher.stop()
                    waiter.switch(None)
                    return
                data = self._raw + new if self._raw else new
                self._raw = b""
                body = self._chunked(data) if chunked else self._plain(data)
                if body:
                    on_body(body, ns)
                if self.ended:
                    watcher.stop()
                    waiter.switch(None)
            except BaseException:
                watcher.stop()
                waiter.throw(*sys.exc_info())

        watcher.start(readable)
        try:
            waiter.get()
        finally:
            watcher.stop()

    def read_all(self) -> bytes:
        """The rest of the body (error responses)."""
        parts = []
        while data := self.read_body()[0]:
            parts.append(data)
        return b"".join(parts)

    def _plain(self, data: bytes) -> bytes:
        if self._mode == "close":
            return data
        body, self._raw = data[: self._left], data[self._left :]
        self._left -= len(body)
        if self._left == 0:
            self._end(self.reusable)
        return body

    def _chunked(self, data: bytes) -> bytes:
        """De-chunk ``data`` (after what was left over); keeps an incomplete size line.

        Fast path: ``data`` is exactly one whole chunk (a server's write per event)."""
        if not (self._left or self._skip or self._trailer):
            eol = data.find(b"\r\n")
            if 0 < eol < 10 and data.endswith(b"\r\n"):
                try:
                    size = int(data[:eol], 16)
                except ValueError:
                    size = -1
                if size > 0 and len(data) == eol + size + 4:
                    return data[eol + 2 : -2]
        out = []
        pos, n = 0, len(data)
        while pos < n:
            if self._left:
                take = data[pos : pos + self._left]
                out.append(take)
                pos += len(take)
                self._left -= len(take)
                if self._left:
                    break
                self._skip = 2
            if self._skip:
                step = min(self._skip, n - pos)
                pos += step
                self._skip -= step
                continue
            if self._trailer:
                if data.startswith(b"\r\n", pos):
                    self._raw = data[pos + 2 :]
                    self._end(self.reusable)
                    break
                end = data.find(b"\r\n\r\n", pos)
                if end < 0:
                    self._raw = data[pos:]
                    break
                self._raw = data[end + 4 :]
                self._end(self.reusable)
                break
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                self._raw = data[pos:]
                if len(self._raw) > 1024:
                    raise ProtocolError("chunk size line too long")
                break
            try:
                size = int(data[pos:eol].split(b";", 1)[0], 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {data[pos:eol][:40]!r}") from None
            pos = eol + 2
            self._left = size
            self._trailer = size == 0
        return out[0] if len(out) == 1 else b"".join(out)
