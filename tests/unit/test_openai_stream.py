"""SSE framing and OpenAI/vLLM chunk decoding (pure, no I/O)."""

from __future__ import annotations

import orjson
import pytest

from tokenswarm.openai_stream import (
    DONE,
    NOT_A_TOKEN,
    Chunk,
    MalformedEvent,
    SSEDecoder,
    decode_event,
    error_message,
)


def _feed_all(pieces: list[bytes]) -> list[bytes]:
    dec = SSEDecoder()
    out = []
    for piece in pieces:
        out.extend(dec.feed(piece))
    return out


def _chat(delta=None, finish_reason=None, usage=None, choices=True, **extra) -> bytes:
    obj = {
        "id": "chatcmpl-abc",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "Qwen/Qwen3-8B",
        "choices": [
            {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}
        ]
        if choices
        else [],
        **extra,
    }
    if usage is not None:
        obj["usage"] = usage
    return orjson.dumps(obj)


def _completion(text, finish_reason=None) -> bytes:
    return orjson.dumps(
        {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 1,
            "model": "m",
            "choices": [
                {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
    )


# --- SSEDecoder -------------------------------------------------------------------------------


def test_decoder_data_line_then_blank_line():
    dec = SSEDecoder()
    assert dec.feed(b'data: {"a": 1}\n') == []
    assert dec.line_pending  # the data has arrived: the reader stamps the event now
    assert dec.feed(b"\n") == [b'{"a": 1}']
    assert not dec.line_pending


def test_decoder_several_events_in_one_read():
    assert _feed_all([b"data: 1\n\ndata: 2\n\ndata: [DONE]\n\n"]) == [b"1", b"2", DONE]


def test_decoder_same_events_whatever_the_read_boundaries():
    stream = b": ping\r\n\r\ndata: a\r\ndata: b\r\n\r\nevent: x\ndata: {}\n\n\ndata: [DONE]\n\n"
    expected = [b"a\nb", b"{}", DONE]
    for cut in range(1, len(stream)):
        assert _feed_all([stream[:cut], stream[cut:]]) == expected, cut
    assert _feed_all([bytes([c]) for c in stream]) == expected


def test_decoder_data_without_space():
    assert _feed_all([b"data:{}\n", b"\n"]) == [b"{}"]


def test_decoder_strips_only_one_leading_space():
    assert _feed_all([b"data:  x\n", b"\n"]) == [b" x"]


def test_decoder_done_sentinel():
    assert _feed_all([b"data: [DONE]\n", b"\n"]) == [DONE]


def test_decoder_ignores_comments_and_other_fields():
    lines = [
        b": keep-alive\n",
        b"\n",  # a blank line with no data dispatches nothing
        b"event: message\n",
        b"id: 42\n",
        b"retry: 1000\n",
        b": comment inside an event\n",
        b"data: payload\n",
        b"\n",
    ]
    assert _feed_all(lines) == [b"payload"]


def test_decoder_blank_lines_alone_yield_nothing():
    dec = SSEDecoder()
    assert dec.feed(b"\n") == []
    assert dec.feed(b"\r\n") == []
    assert not dec.line_pending


def test_decoder_multiline_data_joined_with_newline():
    lines = [b"data: first\n", b"data: second\n", b"data:third\n", b"\n"]
    assert _feed_all(lines) == [b"first\nsecond\nthird"]


def test_decoder_crlf_line_endings():
    lines = [b"data: one\r\n", b"\r\n", b"event: x\r\n", b"data: a\r\n", b"data: b\r\n", b"\r\n"]
    assert _feed_all(lines) == [b"one", b"a\nb"]


def test_decoder_several_events_in_sequence_and_state_reset():
    lines = [b"data: 1\n", b"\n", b"data: 2\n", b"\n", b"\n", b"data: 3\n", b"\n"]
    assert _feed_all(lines) == [b"1", b"2", b"3"]


def test_decoder_partial_line_is_not_pending():
    dec = SSEDecoder()
    assert dec.feed(b"data: part") == []
    assert not dec.line_pending  # its line is not complete: no arrival to keep yet


# --- decode_event: chat -----------------------------------------------------------------------


def test_vllm_role_only_chunk_is_not_a_token():
    chunk = decode_event(_chat({"role": "assistant", "content": ""}))
    assert chunk == NOT_A_TOKEN
    assert chunk.has_token is False


def test_role_chunk_with_null_content_is_not_a_token():
    assert decode_event(_chat({"role": "assistant", "content": None})).has_token is False


def test_empty_delta_is_not_a_token():
    assert decode_event(_chat({})) == NOT_A_TOKEN


def test_content_chunk_is_a_token():
    chunk = decode_event(_chat({"content": " hello"}))
    assert chunk == Chunk(has_token=True)


def test_whitespace_content_is_a_token():
    # a token that decodes to a single space is still a generated token
    assert decode_event(_chat({"content": " "})).has_token is True


def test_reasoning_content_chunk_is_a_token():
    chunk = decode_event(_chat({"reasoning_content": "Let me think", "content": None}))
    assert chunk.has_token is True


def test_vllm_reasoning_field_chunk_is_a_token():
    # current vLLM names the field `reasoning` (vllm PR #27752; reasoning_content removed in
    # PR #33402): a reasoning model's first thinking token is its first token
    chunk = decode_event(_chat({"reasoning": "Let me think", "content": None}))
    assert chunk.has_token is True


def test_finish_reason_chunk_with_empty_content():
    chunk = decode_event(_chat({"content": ""}, finish_reason="stop"))
    assert chunk.has_token is False
    assert chunk.finish_reason == "stop"
    assert chunk.completion_tokens is None


def test_last_token_chunk_with_finish_reason_length():
    chunk = decode_event(_chat({"content": "end"}, finish_reason="length"))
    assert chunk.has_token is True and chunk.finish_reason == "length"


def test_final_usage_chunk_with_empty_choices():
    data = _chat(choices=False, usage={"prompt_tokens": 17, "completion_tokens": 128,
                                       "total_tokens": 145})
    chunk = decode_event(data)
    assert chunk.has_token is False
    assert chunk.finish_reason is None
    assert chunk.completion_tokens == 128
    assert chunk.prompt_tokens == 17
    assert chunk.error is None


def test_usage_null_is_ignored():
    data = orjson.dumps({"choices": [{"delta": {"content": "x"}}], "usage": None})
    assert decode_event(data) == Chunk(has_token=True)
    assert decode_event(orjson.dumps({"choices": [], "usage": None})) == NOT_A_TOKEN


def test_continuous_usage_on_every_chunk():
    # vLLM continuous_usage_stats: cumulative completion tokens on each chunk
    role = decode_event(_chat({"role": "assistant", "content": ""},
                              usage={"prompt_tokens": 9, "completion_tokens": 0,
                                     "total_tokens": 9}))
    assert role.has_token is False and role.completion_tokens == 0 and role.prompt_tokens == 9
    counts = []
    for text, cum in (("a", 1), ("bcd", 4), ("efgh", 8)):
        chunk = decode_event(_chat({"content": text},
                                   usage={"prompt_tokens": 9, "completion_tokens": cum,
                                          "total_tokens": 9 + cum}))
        assert chunk.has_token is True
        counts.append(chunk.completion_tokens)
    assert counts == [1, 4, 8]


# --- decode_event: completions ----------------------------------------------------------------


def test_completions_text_is_a_token():
    assert decode_event(_completion(" world")).has_token is True


def test_completions_empty_text_is_not_a_token():
    assert decode_event(_completion("")) == NOT_A_TOKEN


def test_completions_finish_reason():
    chunk = decode_event(_completion("", finish_reason="length"))
    assert chunk.has_token is False and chunk.finish_reason == "length"


def test_completions_usage_chunk():
    data = orjson.dumps({"id": "cmpl-1", "object": "text_completion", "choices": [],
                         "usage": {"prompt_tokens": 3, "completion_tokens": 5}})
    chunk = decode_event(data)
    assert (chunk.has_token, chunk.completion_tokens, chunk.prompt_tokens) == (False, 5, 3)


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"object": "error", "message": "too long", "type": "BadRequestError", "code": 400},
         (400, "too long")),
        ({"message": "overloaded", "code": 503}, (503, "overloaded")),
        ({"message": "bad code", "code": "invalid_request"}, (500, "bad code")),
        ({"message": "out of range", "code": 600}, (500, "out of range")),
        ({"message": "too small", "code": 99}, (500, "too small")),
        ({"message": "no code"}, (500, "no code")),
        ({"message": "float", "code": 400.0}, (500, "float")),
        ("plain string error", (500, "plain string error")),
    ],
)
def test_in_stream_error_objects(error, expected):
    chunk = decode_event(orjson.dumps({"error": error}))
    assert chunk.has_token is False
    assert chunk.error == expected


def test_error_dict_without_message_keeps_the_object_text():
    chunk = decode_event(orjson.dumps({"error": {"code": 429}}))
    assert chunk.error is not None
    assert chunk.error[0] == 429
    assert "429" in chunk.error[1]


def test_error_wins_over_choices():
    data = orjson.dumps({"error": {"message": "boom", "code": 500},
                         "choices": [{"delta": {"content": "x"}}]})
    chunk = decode_event(data)
    assert chunk.has_token is False and chunk.error == (500, "boom")


def test_error_null_is_not_an_error():
    chunk = decode_event(orjson.dumps({"error": None, "choices": [{"delta": {"content": "x"}}]}))
    assert chunk.has_token is True and chunk.error is None


# --- malformed --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [b"{not json", b"", b'{"choices": [', b"data: {}", b"\xff\xfe", b"[DONE"],
)
def test_invalid_json_is_malformed(data):
    with pytest.raises(MalformedEvent):
        decode_event(data)


@pytest.mark.parametrize("data", [b"[]", b"[1, 2]", b'"text"', b"42", b"null", b"true"])
def test_non_object_json_is_malformed(data):
    with pytest.raises(MalformedEvent):
        decode_event(data)


def test_malformed_event_is_a_value_error():
    assert issubclass(MalformedEvent, ValueError)


@pytest.mark.parametrize(
    "data",
    [
        b'{"choices": [null]}',
        b'{"choices": ["x"]}',
        b'{"choices": "abc"}',
        b'{"choices": [{"delta": "x"}]}',
        b'{"choices": [{"delta": ["x"]}]}',
        b'{"choices": 5}',
        b'{"choices": {"a": 1}}',
        b'{"choices": [], "usage": {"completion_tokens": "5"}}',
        b'{"choices": [], "usage": {"prompt_tokens": 2.5}}',
    ],
)
def test_wrongly_shaped_object_is_malformed(data):
    """Valid JSON of the wrong shape must become MalformedEvent: the stream reader catches only
    that, anything else would escape it and record nothing."""
    with pytest.raises(MalformedEvent):
        decode_event(data)


# --- error_message ----------------------------------------------------------------------------


def test_error_message_openai_body():
    body = orjson.dumps({"error": {"message": "model not found", "type": "NotFound",
                                   "code": 404}})
    assert error_message(body) == "model not found"


def test_error_message_truncated_to_200():
    body = orjson.dumps({"error": {"message": "x" * 500}})
    assert error_message(body) == "x" * 200


def test_error_message_error_without_message():
    assert error_message(orjson.dumps({"error": {"code": 500}})) == ""


def test_error_message_fastapi_detail():
    assert error_message(b'{"detail": "Not Found"}') == "Not Found"
    assert error_message(orjson.dumps({"detail": "d" * 300})) == "d" * 200
    detail_list = orjson.dumps({"detail": [{"loc": ["body"], "msg": "field required"}]})
    assert "field required" in error_message(detail_list)


def test_error_message_non_json_body_first_120_bytes():
    body = b"<html>" + b"a" * 300
    assert error_message(body) == (b"<html>" + b"a" * 114).decode()
    assert len(error_message(body)) == 120


def test_error_message_non_utf8_is_replaced():
    assert error_message(b"\xff\xfe bad") == "\ufffd\ufffd bad"


def test_error_message_json_without_error_falls_back_to_body():
    assert error_message(b'{"foo": 1}') == '{"foo": 1}'
    assert error_message(b"[1, 2]") == "[1, 2]"


def test_error_message_empty_body():
    assert error_message(b"") == ""
