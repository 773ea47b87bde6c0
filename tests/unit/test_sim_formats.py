"""Chunk formatting, fault choice, request parsing, token text: pure functions."""

from __future__ import annotations

import random

import orjson
import pytest

from tokenswarm.sim import formats, http
from tokenswarm.sim.config import build_config
from tokenswarm.sim.faults import KIND_NAMES, pick_fault
from tokenswarm.sim.params import BadRequest, parse_generation
from tokenswarm.sim.stream import token_text
from tokenswarm.tokenizer import WordTokenizer


def _event(raw: bytes) -> dict:
    assert raw.startswith(b"data: ") and raw.endswith(b"\n\n")
    return orjson.loads(raw[6:-2])


def test_chat_chunks_match_vllm_shape():
    fmt = formats.ChunkFormat(
        chat=True,
        rid="chatcmpl-1",
        created=7,
        model='m"x',
        prompt_tokens=10,
        continuous_usage=False,
    )
    role = _event(fmt.role_event())
    assert role["object"] == "chat.completion.chunk" and role["model"] == 'm"x'
    assert role["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": ""},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    tok = _event(fmt.token_event(b" alpha beta", False, 2))
    assert tok["choices"][0]["delta"] == {"content": " alpha beta"} and "usage" not in tok
    reasoning = _event(fmt.token_event(b" x", True, 1))
    assert reasoning["choices"][0]["delta"] == {"reasoning_content": " x"}
    fin = _event(fmt.finish_event("length", 2))
    assert fin["choices"][0]["delta"] == {} and fin["choices"][0]["finish_reason"] == "length"
    usage = _event(fmt.usage_event(2))
    assert usage["choices"] == [] and usage["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "total_tokens": 12,
    }


def test_continuous_usage_and_completions_chunks():
    fmt = formats.ChunkFormat(
        chat=False, rid="cmpl-1", created=7, model="m", prompt_tokens=3, continuous_usage=True
    )
    tok = _event(fmt.token_event(b" a", False, 4))
    assert tok["object"] == "text_completion" and tok["choices"][0]["text"] == " a"
    assert tok["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert _event(fmt.finish_event("stop", 4))["usage"]["completion_tokens"] == 4


def test_http_framing():
    assert http.chunk(b"hello") == b"5\r\nhello\r\n"
    raw = http.response(429, b"{}", extra_headers=(("retry-after", "1"),))
    assert raw.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert b"retry-after: 1\r\n" in raw and raw.endswith(b"content-length: 2\r\n\r\n{}")


def test_token_text_is_one_builtin_token_and_deterministic():
    tok = WordTokenizer()
    text = b"".join(token_text(5, i) for i in range(50)).decode()
    assert tok.count(text) == 50
    assert token_text(5, 3) == token_text(5, 3) != token_text(6, 3)


def test_fault_choice_rates_and_exclusivity():
    cfg = build_config("default", None, {"fault_429": 0.2, "fault_cut": 0.3, "fault_stall": 0.1})
    rng = random.Random(1)
    picks = [pick_fault(cfg, rng, 10) for _ in range(20000)]
    counts = {kind: sum(1 for p in picks if p and p.kind == kind) for kind in KIND_NAMES}
    assert counts["http_429"] / 20000 == pytest.approx(0.2, abs=0.015)
    assert counts["stream_truncated"] / 20000 == pytest.approx(0.3, abs=0.015)
    assert counts["stall"] / 20000 == pytest.approx(0.1, abs=0.015)
    assert counts["http_500"] == counts["malformed_event"] == 0
    assert all(1 <= p.position <= 10 for p in picks if p and p.kind == "stream_truncated")
    assert all(1 <= p.position <= 9 for p in picks if p and p.kind == "stall")
    again = [pick_fault(cfg, random.Random(1), 10)]
    assert again[0] == picks[0]


def test_parse_generation_counts_prompt_and_validates():
    cfg = build_config("default", None, {"max_model_len": 100, "default_max_tokens": 16})
    tok = WordTokenizer()
    body = {
        "messages": [
            {"role": "system", "content": "one two"},
            {"role": "user", "content": [{"type": "text", "text": " three ."}]},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "min_tokens": 2,
    }
    p = parse_generation(body, chat=True, cfg=cfg, tokenizer=tok)
    assert (p.prompt_tokens, p.max_tokens, p.min_tokens, p.stream, p.include_usage) == (
        4,
        16,
        2,
        True,
        True,
    )
    p = parse_generation(
        {"prompt": [1, 2, 3], "max_completion_tokens": 5}, chat=False, cfg=cfg, tokenizer=tok
    )
    assert (p.prompt_tokens, p.max_tokens) == (3, 5)
    for bad in (
        {},
        {"messages": []},
        {"messages": "x"},
        {"messages": [{"content": "a"}], "max_tokens": 0},
        {"messages": [{"content": "a"}], "max_tokens": 2, "min_tokens": 3},
        {"messages": [{"content": "a"}], "max_tokens": 100},
        {"messages": [{"content": "a"}], "stream": "yes"},
    ):
        with pytest.raises(BadRequest):
            parse_generation(bad, chat=True, cfg=cfg, tokenizer=tok)
