"""One response's SSE body bytes -> the raw observations of the stream (:class:`StreamResult`).

Called once per socket read with the bytes and their arrival stamp (``perf_counter_ns``; the
kernel's receive time where available). An event is stamped with the arrival of the read that
brought its first complete line, so an event split across reads keeps its true arrival. Per
token event the work is one :class:`~tokenswarm.openai_stream.SSEDecoder` feed, one orjson
parse and one ``array('q')`` append: no logging, formatting or per-token objects beyond that.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from tokenswarm.openai_stream import DONE, MalformedEvent, SSEDecoder, decode_event


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


class EventReader:
    """Feeds body bytes, records token stamps and usage into ``result``.

    ``on_first_token`` runs once, before the first token's stamp is recorded (the caller swaps
    its first-token deadline for the idle watchdog there).
    """

    __slots__ = ("_decoder", "_first", "_pending_ns", "done", "malformed", "result")

    def __init__(self, result: StreamResult, on_first_token: Callable[[], None]) -> None:
        self.result = result
        self._first: Callable[[], None] | None = on_first_token
        self._decoder = SSEDecoder()
        self._pending_ns = 0  # arrival of an unfinished event's first line
        self.done = self.malformed = False

    def on_body(self, data: bytes, arrival_ns: int) -> None:
        decoder = self._decoder
        events = decoder.feed(data)
        event_ns = self._pending_ns or arrival_ns
        self._pending_ns = arrival_ns if decoder.line_pending else 0
        result = self.result
        for payload in events:
            if payload == DONE:
                self.done = True
                continue
            try:
                chunk = decode_event(payload)
            except MalformedEvent as exc:
                self.malformed = True
                result.fail("malformed_event", str(exc))
                continue
            if chunk.error is not None:
                result.fail(f"http_{chunk.error[0]}", chunk.error[1])
                continue
            if chunk.has_token:
                if self._first is not None:
                    self._first()
                    self._first = None
                result.chunk_ns.append(event_ns)
                if chunk.completion_tokens is not None:
                    result.chunk_cumulative.append(chunk.completion_tokens)
            if chunk.finish_reason is not None:
                result.finish_reason = chunk.finish_reason
            if chunk.completion_tokens is not None:
                result.completion_tokens = chunk.completion_tokens
            if chunk.prompt_tokens is not None:
                result.prompt_tokens = chunk.prompt_tokens
            event_ns = arrival_ns

    def finish(self, body_ended: bool) -> None:
        """Classify how the stream ended (``body_ended``: read to its end, not cut by EOF)."""
        result = self.result
        if not body_ended:
            result.fail("stream_truncated", "the connection closed before the end of the response")
        elif not self.malformed and not self.done and result.finish_reason is None:
            result.fail("stream_truncated", "stream ended without [DONE] or finish_reason")
        elif not result.chunk_ns:
            result.fail("empty_output", "the stream carried no token")
