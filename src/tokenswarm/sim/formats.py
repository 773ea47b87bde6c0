"""OpenAI/vLLM response bodies: streaming chunk events and full (non-streaming) responses.

Streaming events are what vLLM's OpenAI server writes: ``data: <json>\\n\\n`` per chunk, with
``"logprobs":null`` and ``"finish_reason":null`` on token chunks. The JSON around the token text is
fixed for a request, so it is serialised once (prefix/suffix bytes) and a token event costs one
bytes concatenation: the simulator must never be the bottleneck of the load tester.
Token text comes from :data:`TOKEN_TEXT` (``" " + word``), which needs no JSON escaping.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenswarm.tokenizer import WORD_VOCAB

TOKEN_TEXT: tuple[bytes, ...] = tuple((" " + word).encode() for word in WORD_VOCAB)
DONE_EVENT = b"data: [DONE]\n\n"
MALFORMED_EVENT = b'data: {"id": broken\n\n'


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """OpenAI ``usage`` object."""
    return {
        "prompt_tokens": prompt_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "completion_tokens": completion_tokens,
    }


def error_body(status: int, message: str, kind: str) -> bytes:
    """OpenAI-style error body ``{"error": {message, type, param, code}}``."""
    error = {"message": message, "type": kind, "param": None, "code": status}
    return orjson.dumps({"error": error})


class ChunkFormat:
    """Builds the SSE events of one streaming request (chat or completions)."""

    __slots__ = ("_chat", "_continuous", "_head", "_prompt", "_reasoning_key", "_text_key")

    def __init__(
        self,
        *,
        chat: bool,
        rid: str,
        created: int,
        model: str,
        prompt_tokens: int,
        continuous_usage: bool,
    ) -> None:
        obj = "chat.completion.chunk" if chat else "text_completion"
        head = {"id": rid, "object": obj, "created": created, "model": model}
        # '{"id":..,"model":".."' without the closing brace: choices/usage are appended.
        self._head = b"data: " + orjson.dumps(head)[:-1] + b',"choices":['
        self._chat = chat
        self._prompt = prompt_tokens
        self._continuous = continuous_usage
        self._text_key = b'{"index":0,"delta":{"content":"' if chat else b'{"index":0,"text":"'
        self._reasoning_key = b'{"index":0,"delta":{"reasoning_content":"'

    def _tail(self, completion_tokens: int) -> bytes:
        if not self._continuous:
            return b"}\n\n"
        return b',"usage":' + orjson.dumps(usage(self._prompt, completion_tokens)) + b"}\n\n"

    def role_event(self) -> bytes:
        """Chat only: the role chunk vLLM sends as soon as the request is accepted."""
        return (
            self._head
            + b'{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,'
            + b'"finish_reason":null}]'
            + self._tail(0)
        )

    def token_event(self, text: bytes, reasoning: bool, completion_tokens: int) -> bytes:
        """A token chunk carrying ``text`` (content, reasoning_content or completions text)."""
        key = self._reasoning_key if reasoning else self._text_key
        close = (
            b'"},"logprobs":null,"finish_reason":null}]'
            if self._chat
            else (b'","logprobs":null,"finish_reason":null}]')
        )
        return self._head + key + text + close + self._tail(completion_tokens)

    def finish_event(self, reason: str, completion_tokens: int) -> bytes:
        """The chunk with an empty delta (or text) and ``finish_reason``."""
        body = b'{"index":0,"delta":{},' if self._chat else b'{"index":0,"text":"",'
        return (
            self._head
            + body
            + b'"logprobs":null,"finish_reason":"'
            + reason.encode()
            + b'","stop_reason":null}]'
            + self._tail(completion_tokens)
        )

    def usage_event(self, completion_tokens: int) -> bytes:
        """The final ``"choices":[]`` chunk with usage (``stream_options.include_usage``)."""
        return (
            self._head
            + b'],"usage":'
            + orjson.dumps(usage(self._prompt, completion_tokens))
            + b"}\n\n"
        )


def full_response(
    *,
    chat: bool,
    rid: str,
    created: int,
    model: str,
    prompt_tokens: int,
    content: str,
    reasoning: str | None,
    completion_tokens: int,
    finish_reason: str,
) -> bytes:
    """The non-streaming ``chat.completion`` / ``text_completion`` response body."""
    choice: dict[str, Any]
    if chat:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reasoning is not None:
            message["reasoning_content"] = reasoning
        choice = {"index": 0, "message": message}
    else:
        choice = {"index": 0, "text": content}
    choice.update({"logprobs": None, "finish_reason": finish_reason, "stop_reason": None})
    return orjson.dumps(
        {
            "id": rid,
            "object": "chat.completion" if chat else "text_completion",
            "created": created,
            "model": model,
            "choices": [choice],
            "usage": usage(prompt_tokens, completion_tokens),
        }
    )
