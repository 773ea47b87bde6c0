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

from dataclasses import dataclass
from typing import Any

import orjson

DONE = b"[DONE]"


class MalformedEvent(ValueError):
    """An SSE event whose data is not a JSON object."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """What one decoded SSE event tells the timer.

    ``has_token``: it carries generated text. ``completion_tokens``: the cumulative
    ``usage.completion_tokens`` when the event carries usage (the final usage chunk, or every
    chunk with vLLM's ``continuous_usage_stats``). ``error``: an in-stream error object
    (vLLM and SGLang report mid-stream failures this way) as ``(code, message)``.
    """

    has_token: bool
    finish_reason: str | None = None
    completion_tokens: int | None = None
    prompt_tokens: int | None = None
    error: tuple[int, str] | None = None


NOT_A_TOKEN = Chunk(has_token=False)


class SSEDecoder:
    """Feeds raw lines (with their ``\\n``), yields event payloads at blank lines.

    ``feed(line)`` returns the complete event's data (bytes) when ``line`` ends an event, else
    None. A ``data:`` line directly followed by a blank line is the common case; multi-line
    data is joined with ``\\n`` as the SSE spec says.
    """

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data: list[bytes] = []

    def feed(self, line: bytes) -> bytes | None:
        line = line.rstrip(b"\r\n")
        if not line:
            if not self._data:
                return None
            data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
            self._data = []
            return data
        if line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(b" ") else value)
        return None

    def has_pending(self) -> bool:
        """True while an event's data lines have been read but not its closing blank line."""
        return bool(self._data)


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
    except (AttributeError, TypeError, IndexError) as exc:
        raise MalformedEvent("an SSE event has an unexpected shape") from exc


def _chunk_of(obj: dict[str, Any]) -> Chunk:
    error = obj.get("error")
    if error is not None:
        return Chunk(has_token=False, error=_error_of(error))
    usage = obj.get("usage")
    completion_tokens = prompt_tokens = None
    if isinstance(usage, dict):
        completion_tokens = usage.get("completion_tokens")
        prompt_tokens = usage.get("prompt_tokens")
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
