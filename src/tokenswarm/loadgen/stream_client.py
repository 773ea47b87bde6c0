"""One streaming POST, read straight from the socket and timed per SSE event.

Hot path (one token event): one ``recvmsg`` run inside the gevent hub's readable-socket
callback, so no greenlet switch per event (:meth:`~tokenswarm.loadgen.http_conn.Connection.pump`),
in-place chunk de-framing, :class:`~tokenswarm.openai_stream.SSEDecoder` splitting, one orjson
parse and one ``array('q')`` append of the arrival stamp
(:class:`~tokenswarm.loadgen.event_reader.EventReader`). No logging, formatting or per-token
objects beyond that; metrics are derived and recorded once per request, after it ended
(users.py).

Stamps: an event is stamped with the arrival of the read that brought its first complete
line: the kernel's receive time where ``SO_TIMESTAMPNS`` works (plain TCP on Linux, see
:mod:`tokenswarm.kernel_timestamps`), else ``perf_counter_ns`` right after the read. Why
not Locust's FastHttpSession helpers: ``iter_content``/``iter_lines`` buffer 1 KiB, which adds
~50 ms per event at 20 ms token gaps.

Timeouts: ``connect_timeout`` for TCP connect; ``first_token_timeout`` is one deadline from
t_send to the first token chunk (it covers slow headers, queueing and prefill); after the first
token, ``idle_timeout`` is the longest allowed gap between reads (:class:`_IdleWatch`).

Connections: kept alive between requests. A reused connection that the server closed while
idle (EOF or reset before any response byte) is replaced and the request re-sent once. After a
failure mid-stream, or a body not read to its end, the connection is closed and the next
request opens a new one; successful streams are read to the end of the body (after
``[DONE]``) so the connection is reused.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import gevent
from gevent import get_hub, getcurrent

from tokenswarm import __version__
from tokenswarm.kernel_timestamps import Receiver
from tokenswarm.loadgen.event_reader import EventReader, StreamResult
from tokenswarm.loadgen.http_conn import Connection, ProtocolError, StaleConnection
from tokenswarm.openai_stream import error_message

__all__ = ["StreamClient", "StreamResult"]


class _FirstTokenDeadline(Exception):
    """Raised by the per-request gevent timer when no token arrived in time."""


class _IdleWatch:
    """Throws TimeoutError into the reading greenlet once no bytes arrived for ``seconds``.

    One hub timer per request, checked lazily: when it fires, the quiet time so far
    (``now - rx.last_ns``) decides between raising and re-arming for the rest, so reads cost
    nothing (a socket timeout would create a timer object per read).
    """

    __slots__ = ("_glet", "_rx", "_seconds", "_timer")

    def __init__(self, seconds: float, rx: Receiver, glet: Any) -> None:
        self._seconds = seconds
        self._rx = rx
        self._glet = glet
        self._timer = None
        self._arm(seconds)

    def _arm(self, after: float) -> None:
        self._timer = get_hub().loop.timer(after)
        self._timer.start(self._check)

    def _check(self) -> None:
        self.close()
        quiet = (time.perf_counter_ns() - self._rx.last_ns) / 1e9
        if quiet >= self._seconds:
            self._glet.throw(TimeoutError("idle"))
        else:
            self._arm(self._seconds - quiet)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.close()
            self._timer = None


class StreamClient:
    """A keep-alive HTTP client for one Locust user (one request in flight at a time)."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        first_token_timeout: float,
        idle_timeout: float,
        headers: dict[str, str],
    ) -> None:
        url = urlsplit(base_url)
        self._tls = url.scheme == "https"
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or (443 if self._tls else 80)
        self._prefix = url.path.rstrip("/")
        self._connect_timeout = connect_timeout
        self._first_token_timeout = first_token_timeout
        self._idle_timeout = idle_timeout
        fields = {
            "Host": url.netloc.rsplit("@", 1)[-1],
            "User-Agent": f"tokenswarm/{__version__}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "Accept-Encoding": "identity",
            **headers,
        }
        self._head = "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode("latin-1")
        self._conn: Connection | None = None
        self._idle: _IdleWatch | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stream(self, path: str, body: bytes, result: StreamResult) -> StreamResult:
        """POST ``body`` to ``path`` and time every SSE event into ``result``.

        Never raises for server faults (they become ``result.error_class``); a GreenletExit
        (the user being stopped) propagates with ``result`` holding what arrived so far.
        """
        request = b"POST %b HTTP/1.1\r\n%bContent-Length: %d\r\n\r\n%b" % (
            (self._prefix + path).encode(),
            self._head,
            len(body),
            body,
        )
        result.t_send_ns = time.perf_counter_ns()
        result.wall_send_ns = result.wall_send_ns or time.time_ns()
        deadline = gevent.Timeout(self._first_token_timeout, _FirstTokenDeadline)
        deadline.start()
        clean = False
        try:
            clean = self._exchange(request, result, deadline)
        except _FirstTokenDeadline:
            result.fail("timeout_first_token", f"no token within {self._first_token_timeout:g} s")
        except gevent.GreenletExit:
            self.close()
            raise
        finally:
            deadline.close()
            if self._idle is not None:
                self._idle.close()
                self._idle = None
        if not clean:
            self.close()
        return result

    def _connect(self) -> Connection:
        self._conn = Connection(self._host, self._port, self._tls, self._connect_timeout)
        return self._conn

    def _exchange(self, request: bytes, result: StreamResult, deadline: gevent.Timeout) -> bool:
        """Send and read; returns True when the connection is clean for reuse."""
        for attempt in (1, 2):
            try:
                conn = self._conn or self._connect()
            except TimeoutError:
                result.fail("timeout_connect", f"no connection within {self._connect_timeout:g} s")
                return False
            except OSError as exc:
                result.fail("connection_error", f"{type(exc).__name__}: {exc}")
                return False
            try:
                # t_send: just before the request is written (DESIGN.md section 3): connecting
                # (TCP, TLS) and a resend over a fresh connection are not the server's TTFT
                result.t_send_ns = time.perf_counter_ns()
                conn.send(request)
                status, headers = conn.read_head()
                break
            except StaleConnection:
                self.close()
                if attempt == 2:
                    result.fail("connection_error", "the server closed the connection")
                    return False
            except (BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt == 2 or not conn.used:
                    result.fail("connection_error", f"{type(exc).__name__}: {exc}")
                    return False
            except TimeoutError:
                result.fail("timeout_first_token", "socket timed out before the response headers")
                return False
            except (OSError, ProtocolError) as exc:
                result.fail("connection_error", f"{type(exc).__name__}: {exc}")
                return False
        try:
            return self._read_response(conn, status, headers, result, deadline)
        except TimeoutError:
            if len(result.chunk_ns):
                result.fail("timeout_idle", f"no chunk for {self._idle_timeout:g} s")
            else:
                result.fail("timeout_first_token", "socket timed out before the first token")
            return False
        except (OSError, ProtocolError) as exc:
            result.fail("stream_truncated", f"{type(exc).__name__}: {exc}")
            return False

    def _read_response(
        self,
        conn: Connection,
        status: int,
        headers: dict[str, str],
        result: StreamResult,
        deadline: gevent.Timeout,
    ) -> bool:
        if status != 200:
            result.fail(f"http_{status}", error_message(conn.read_all()))
            return conn.reusable
        content_type = headers.get("content-type", "")
        if "text/event-stream" not in content_type:
            conn.read_all()
            result.fail(
                "malformed_event",
                f"the server answered {content_type or 'no Content-Type'}, not an SSE stream "
                "(does it support stream: true?)",
            )
            return conn.reusable
        self._read_events(conn, result, deadline)
        return conn.reusable

    def _read_events(
        self, conn: Connection, result: StreamResult, deadline: gevent.Timeout
    ) -> None:
        glet = getcurrent()

        def first_token() -> None:
            deadline.cancel()
            self._idle = _IdleWatch(self._idle_timeout, conn.rx, glet)

        reader = EventReader(result, first_token)
        conn.pump(reader.on_body)
        reader.finish(conn.ended)
