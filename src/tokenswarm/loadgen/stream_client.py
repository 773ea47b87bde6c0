"""One streaming POST, read line by line from the socket and timed per SSE event.

Why not Locust's FastHttpSession helpers: ``iter_content``/``iter_lines`` buffer 1 KiB, which
adds ~50 ms per event at 20 ms token gaps. geventhttpclient's ``readline`` returns as soon as a
line is in the buffer (0.3 ms median lag, LOCUST-NOTES section 1.2).

Timeouts: ``connect_timeout`` for TCP connect; ``first_token_timeout`` is one deadline from
t_send to the first token chunk (it covers slow headers, queueing and prefill); after the first
token the socket's timeout becomes ``idle_timeout``, the longest allowed gap between chunks.

After a failure mid-stream the connection is dirty (geventhttpclient hands a half-read socket
back to its pool), so the whole client is replaced; successful streams are read to the end of
the body (after ``[DONE]``) so the keep-alive connection is reused.
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass, field

import gevent
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPParseError
from geventhttpclient.url import URL

from tokenswarm.openai_stream import DONE, MalformedEvent, SSEDecoder, decode_event, error_message


class _FirstTokenDeadline(Exception):
    """Raised by the per-request gevent timer when no token arrived in time."""


@dataclass(slots=True)
class StreamResult:
    """Raw observations of one stream (all times are ``perf_counter_ns``)."""

    t_send_ns: int = 0
    wall_send_ns: int = 0
    error_class: str | None = None
    error_detail: str = ""
    chunk_ns: array = field(default_factory=lambda: array("q"))
    chunk_cumulative: list[int] = field(default_factory=list)
    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    finish_reason: str | None = None

    def fail(self, error_class: str, detail: str) -> StreamResult:
        if self.error_class is None:
            self.error_class, self.error_detail = error_class, detail
        return self


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
        self._url = URL(base_url)
        self._prefix = self._url.path.rstrip("/")
        self._connect_timeout = connect_timeout
        self._first_token_timeout = first_token_timeout
        self._idle_timeout = idle_timeout
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "Accept-Encoding": "identity",
            **headers,
        }
        self._http = self._new_http()

    def _new_http(self) -> HTTPClient:
        return HTTPClient.from_url(
            self._url,
            concurrency=1,
            connection_timeout=self._connect_timeout,
            # backstop only: the first-token gevent timer fires first
            network_timeout=self._first_token_timeout + 1.0,
        )

    def _reset(self) -> None:
        self._http.close()
        self._http = self._new_http()

    def close(self) -> None:
        self._http.close()

    def stream(self, path: str, body: bytes, result: StreamResult) -> StreamResult:
        """POST ``body`` to ``path`` and time every SSE event into ``result``.

        Never raises for server faults (they become ``result.error_class``); a GreenletExit
        (the user being stopped) propagates with ``result`` holding what arrived so far.
        """
        result.t_send_ns = time.perf_counter_ns()
        result.wall_send_ns = result.wall_send_ns or time.time_ns()
        deadline = gevent.Timeout(self._first_token_timeout, _FirstTokenDeadline)
        deadline.start()
        clean = False
        try:
            clean = self._exchange(self._prefix + path, body, result, deadline)
        except _FirstTokenDeadline:
            result.fail("timeout_first_token", f"no token within {self._first_token_timeout:g} s")
        except gevent.GreenletExit:
            self._reset()
            raise
        finally:
            deadline.close()
        if not clean:
            self._reset()
        return result

    def _exchange(
        self, path: str, body: bytes, result: StreamResult, deadline: gevent.Timeout
    ) -> bool:
        """Send and read; returns True when the connection is clean for reuse."""
        try:
            resp = self._http.request("POST", path, body=body, headers=self._headers)
        except TimeoutError:
            result.fail("timeout_connect", f"no connection within {self._connect_timeout:g} s")
            return False
        except (OSError, HTTPParseError) as exc:
            result.fail("connection_error", f"{type(exc).__name__}: {exc}")
            return False
        if resp.status_code != 200:
            try:
                detail = error_message(resp.read())
            except (OSError, HTTPParseError):
                return False
            result.fail(f"http_{resp.status_code}", detail)
            return True
        content_type = str(resp.get("content-type", ""))
        if "text/event-stream" not in content_type:
            try:
                resp.read()
            except (OSError, HTTPParseError):
                return False
            result.fail(
                "malformed_event",
                f"the server answered {content_type or 'no Content-Type'}, not an SSE stream "
                "(does it support stream: true?)",
            )
            return True
        sock = resp._sock  # geventhttpclient private; pinned in pyproject
        try:
            return self._read_events(resp, sock, result, deadline)
        except TimeoutError:
            if len(result.chunk_ns):
                result.fail("timeout_idle", f"no chunk for {self._idle_timeout:g} s")
            else:
                result.fail("timeout_first_token", "socket timed out before the first token")
            return False
        except (OSError, HTTPParseError) as exc:
            result.fail("stream_truncated", f"{type(exc).__name__}: {exc}")
            return False
        finally:
            if sock is not None:
                sock.settimeout(self._first_token_timeout + 1.0)

    def _read_events(self, resp, sock, result: StreamResult, deadline: gevent.Timeout) -> bool:
        decoder = SSEDecoder()
        chunk_ns = result.chunk_ns
        cumulative = result.chunk_cumulative
        perf = time.perf_counter_ns
        done = malformed = False
        event_ns = 0
        while True:
            line = resp.readline(b"\n")
            if not line:
                break
            if line.startswith(b"data:") and not decoder.has_pending():
                event_ns = perf()
            data = decoder.feed(line)
            if data is None:
                continue
            if data == DONE:
                done = True
                continue
            try:
                chunk = decode_event(data)
            except MalformedEvent as exc:
                malformed = True
                result.fail("malformed_event", str(exc))
                continue
            if chunk.error is not None:
                result.fail(f"http_{chunk.error[0]}", chunk.error[1])
                continue
            if chunk.has_token:
                if not chunk_ns:
                    deadline.cancel()
                    if sock is not None:
                        sock.settimeout(self._idle_timeout)
                chunk_ns.append(event_ns)
                if chunk.completion_tokens is not None:
                    cumulative.append(chunk.completion_tokens)
            if chunk.finish_reason is not None:
                result.finish_reason = chunk.finish_reason
            if chunk.completion_tokens is not None:
                result.completion_tokens = chunk.completion_tokens
            if chunk.prompt_tokens is not None:
                result.prompt_tokens = chunk.prompt_tokens
        if not malformed and not done and result.finish_reason is None:
            result.fail("stream_truncated", "stream ended without [DONE] or finish_reason")
        elif not chunk_ns:
            result.fail("empty_output", "the stream carried no token")
        return True
