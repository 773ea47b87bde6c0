"""Engine profiles: the request extras each server understands.

Output length must be forced for a benchmark to mean anything (a model that stops early makes
the server look fast). vLLM and SGLang accept ``ignore_eos`` and ``min_tokens``; plain OpenAI
and Xinference do not, so with those the tool asks for ``max_tokens`` and reports outputs that
came back shorter. ``stream_options.include_usage`` is always requested (exact output token
counts); vLLM also gets ``continuous_usage_stats`` (cumulative usage in every chunk), which
gives the exact number of tokens per chunk for per-token ITL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tokenswarm.errors import UserError


@dataclass(frozen=True)
class EngineProfile:
    name: str
    description: str
    force_length: bool
    continuous_usage: bool

    def request_extras(self, output_tokens: int) -> dict[str, Any]:
        """Body fields added to every streaming request asking for ``output_tokens`` tokens."""
        stream_options: dict[str, Any] = {"include_usage": True}
        if self.continuous_usage:
            stream_options["continuous_usage_stats"] = True
        extras: dict[str, Any] = {"stream": True, "stream_options": stream_options}
        if self.force_length:
            extras["ignore_eos"] = True
            extras["min_tokens"] = output_tokens
        return extras


PROFILES: dict[str, EngineProfile] = {
    p.name: p
    for p in (
        EngineProfile("vllm", "vLLM: ignore_eos + min_tokens, continuous usage stats", True, True),
        EngineProfile("sglang", "SGLang: ignore_eos + min_tokens", True, False),
        EngineProfile("xinference", "Xinference: max_tokens only, no length forcing", False, False),
        EngineProfile("openai", "any OpenAI-compatible server: max_tokens only", False, False),
    )
}
AUTO = "auto"
PROFILE_CHOICES = (AUTO, *PROFILES)


def get_profile(name: str) -> EngineProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UserError(
            f"unknown engine profile {name!r} (choose one of: {', '.join(PROFILE_CHOICES)})"
        ) from None


def detect_profile(owned_by: str | None) -> EngineProfile:
    """The profile matching ``/v1/models``' ``owned_by`` (vLLM, SGLang, Xinference), else openai."""
    owner = (owned_by or "").lower()
    for name in ("vllm", "sglang", "xinference"):
        if name in owner:
            return PROFILES[name]
    return PROFILES["openai"]
