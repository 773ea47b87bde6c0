"""Validation of OpenAI request bodies into :class:`GenerationParams`.

Prompt tokens are counted on the raw text, no chat template: for chat, the concatenated
``content`` strings of all messages (text parts of multi-part contents included); for completions,
the prompt string (or the length of a token-id list). So a prompt built for N tokens with the
same tokenizer counts exactly N, which is what a load tester needs to check ``prompt_tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tokenswarm.sim.config import SimConfig
from tokenswarm.tokenizer import Tokenizer


class BadRequest(Exception):
    """An invalid request: answered with an OpenAI-style error body."""

    def __init__(self, message: str, status: int = 400, kind: str = "BadRequestError") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


@dataclass(frozen=True)
class GenerationParams:
    """The request fields the simulator honours."""

    prompt_tokens: int
    max_tokens: int
    min_tokens: int
    ignore_eos: bool
    stream: bool
    include_usage: bool
    continuous_usage: bool


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text", ""), str)
        )
    raise BadRequest("Message `content` must be a string or a list of content parts.")


def prompt_text(body: dict[str, Any]) -> str:
    """The text whose tokens are counted: joined message contents, or the prompt string."""
    messages = body.get("messages")
    if messages is not None:
        if not isinstance(messages, list) or not messages:
            raise BadRequest("`messages` must be a non-empty list.")
        if not all(isinstance(m, dict) for m in messages):
            raise BadRequest("Each message must be an object.")
        return "".join(_content_text(m.get("content")) for m in messages)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("`prompt` (a string) or `messages` is required.")
    return prompt


def _int(body: dict[str, Any], key: str, default: int, minimum: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if type(value) is not int or value < minimum:
        raise BadRequest(f"`{key}` must be an integer >= {minimum}, got {value!r}.")
    return value


def _flag(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"`{key}` must be a boolean.")
    return bool(value)


def parse_generation(
    body: dict[str, Any], *, chat: bool, cfg: SimConfig, tokenizer: Tokenizer
) -> GenerationParams:
    """Validated parameters of a chat (``chat=True``) or completions request."""
    if chat and "messages" not in body:
        raise BadRequest("`messages` is required.")
    prompt = body.get("prompt")
    if not chat and isinstance(prompt, list) and prompt and all(type(t) is int for t in prompt):
        prompt_tokens = len(prompt)
    else:
        prompt_tokens = tokenizer.count(prompt_text(body if chat else {"prompt": prompt}))
    max_tokens = _int(body, "max_completion_tokens", 0, 1) or _int(
        body, "max_tokens", cfg.default_max_tokens, 1
    )
    min_tokens = _int(body, "min_tokens", 0, 0)
    if min_tokens > max_tokens:
        raise BadRequest(f"min_tokens ({min_tokens}) must be <= max_tokens ({max_tokens}).")
    if prompt_tokens + max_tokens > cfg.max_model_len:
        raise BadRequest(
            f"This model's maximum context length is {cfg.max_model_len} tokens. However, you "
            f"requested {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the messages, "
            f"{max_tokens} in the completion). Please reduce the length of the messages or "
            "completion."
        )
    if cfg.kv_cache_tokens and prompt_tokens + max_tokens > cfg.kv_cache_tokens:
        raise BadRequest(
            f"The request needs {prompt_tokens + max_tokens} KV cache tokens, more than the "
            f"{cfg.kv_cache_tokens} the simulated engine has."
        )
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise BadRequest("`stream_options` must be an object.")
    return GenerationParams(
        prompt_tokens=prompt_tokens,
        max_tokens=max_tokens,
        min_tokens=min_tokens,
        ignore_eos=_flag(body, "ignore_eos"),
        stream=_flag(body, "stream"),
        include_usage=_flag(options, "include_usage"),
        continuous_usage=_flag(options, "continuous_usage_stats"),
    )
