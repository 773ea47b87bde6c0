"""Pure decoding of OpenAI-style Server-Sent-Event streams (no I/O).

An SSE event is a group of ``data:`` lines ended by a blank line; other fields (``event:``,
``id:``, ``retry:``) and ``:`` comments are ignored. OpenAI-compatible servers put one JSON
object per event and end with ``data: [DONE]``.

A *token chunk* is an event whose delta carries non-empty ``content``, ``reasoning_content`` or
``reasoning`` (chat) or ``text`` (completions). Role-only, usage-only and empty events are not
token chunks: vLLM sends an empty role chunk before prefill ends (vLLM issue 15106), counting
it would understate TTFT.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

DONE = b"[DONE]"


class MalformedEvent(ValueError):
    """An SSE event whose data is not a JSON object."""


class Chunk(NamedTuple):
    """What one decoded SSE event tells the timer.

    ``has_token``: it carries generated text. ``completion_tokens``: the cumulative
    ``usage.completion_tokens`` when the event carries usage (the final usage chunk, or every
    chunk with vLLM's ``continuous_usage_stats``). ``error``: an in-stream error object
    (vLLM and SGLang report mid-stream failures this way) as ``(code, message)``.
    A NamedTuple: one is built per event, and a tuple is the cheapest immutable record.
    """

    has_token: bool
    finish_reason: str | None = None
    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    error: tuple[int, str] | None = None


NOT_A_TOKEN = Chunk(has_token=False)


class SSEDecoder:
    """Feeds raw body bytes as they arrive, returns the payloads of the events they complete.

    ``feed(data)`` returns the data of every event ended (by a blank line) inside the bytes fed
    so far. Line ends may be ``\\n``, ``\\r\\n`` or ``\\r``; several ``data:`` lines of one event
    are joined with ``\\n`` as the SSE spec says; one space after ``data:`` is dropped; events
    without data (comments, ``event:``/``id:``-only) yield nothing. :attr:`line_pending` is True
    while the unfinished event already holds a complete line (its data has arrived: the reader
    stamps the event with that arrival, not with the later blank line's).

    Fast path: bytes that are exactly one single-line ``data:`` event (what OpenAI-compatible
    servers send per write) cost three scans and one slice.
    """

    __slots__ = ("_rest", "line_pending")

    def __init__(self) -> None:
        self._rest = b""
        self.line_pending = False

    def feed(self, data: bytes) -> list[bytes]:
        if (
            not self._rest
            and data.startswith(b"data: ")
            and data.find(b"\n") == len(data) - 2
            and data.endswith(b"\n\n")
            and b"\r" not in data
        ):
            self.line_pending = False
            return [data[6:-2]]  # exactly one single-line event: the common case
        buf = self._rest + data if self._rest else data
        if b"\r" in buf:
            keep_cr = buf.endswith(b"\r")  # maybe the first half of a CRLF split across reads
            buf = buf[:-1] if keep_cr else buf
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + (b"\r" if keep_cr else b"")
        events = buf.split(b"\n\n")
        rest = self._rest = events.pop()
        self.line_pending = b"\n" in rest.lstrip(b"\n")
        out = []
        for event in events:
            if event.startswith(b"data:") and b"\n" not in event:
                value = event[5:]
                out.append(value[1:] if value.startswith(b" ") else value)
                continue
            lines = [line[5:] for line in event.split(b"\n") if line.startswith(b"data:")]
            if lines:
                out.append(b"\n".join(v[1:] if v.startswith(b" ") else v for v in lines))
        return out


def decode_event(data: bytes) -> Chunk:
    """Decode one event's data into a :class:`Chunk`; raise MalformedEvent on bad JSON."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent("invalid JSON in an SSE event") from exc
    if not isinstance(obj, dict):
        raise MalformedEvent("an SSE event is not a JSON object")
    try:
        return _chunk_of(obj)
    except (AttributeError, TypeError, IndexError, KeyError) as exc:
        raise MalformedEvent("an SSE event has an unexpected shape") from exc


def _chunk_of(obj: dict[str, Any]) -> Chunk:
    error = obj.get("error")
    if error is not None:
        return Chunk(has_token=False, error=_error_of(error))
    usage = obj.get("usage")
    completion_tokens = prompt_tokens = None
    if isinstance(usage, dict):
        completion_tokens = _count(usage.get("completion_tokens"))
        prompt_tokens = _count(usage.get("prompt_tokens"))
    choices = obj.get("choices")
    has_token = False
    finish_reason = None
    if choices:
        choice = choices[0]
        finish_reason = choice.get("finish_reason")
        delta = choice.get("delta")
        if delta is not None:
            # vLLM renamed reasoning_content to reasoning (vLLM PRs 27752, 33402)
            has_token = bool(
                delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning")
            )
        else:
            has_token = bool(choice.get("text"))
    if not has_token and finish_reason is None and completion_tokens is None and not prompt_tokens:
        return NOT_A_TOKEN
    return Chunk(has_token, finish_reason, completion_tokens, prompt_tokens)


def _count(value: Any) -> int | None:
    """A usage token count: a whole number >= 0, else MalformedEvent (a string or a float
    would corrupt every per-token figure computed from it)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedEvent(f"usage token count {value!r} is not a whole number")
    return value


def _error_of(error: Any) -> tuple[int, str]:
    if isinstance(error, dict):
        code = error.get("code")
        message = str(error.get("message", error))
        return (code if isinstance(code, int) and 100 <= code <= 599 else 500, message)
    return (500, str(error))


def error_message(body: bytes) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the body's first 120 bytes."""
    try:
        obj = orjson.loads(body)
        if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
            return str(obj["error"].get("message", ""))[:200]
        if isinstance(obj, dict) and "detail" in obj:
            return str(obj["detail"])[:200]
    except orjson.JSONDecodeError:
        pass
    return body[:120].decode("utf-8", "replace")
