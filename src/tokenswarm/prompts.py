"""Synthetic prompts of an exact input token length.

Why: a run labelled "1024 input tokens" must send prompts the server counts as 1024 tokens,
or every TTFT and throughput figure is filed under the wrong shape. Each prompt is random
(seeded) so the server's prefix cache cannot serve one prompt from another; ``prefix_tokens``
adds one shared prefix for users who *want* to model prefix caching.

Method, for any :class:`~tokenswarm.tokenizer.Tokenizer`:

1. Word pool: *start* words (``[A-Za-z]{2,12}``, open the text) and *continuation* words
   (the same with a leading space). A tokenizer exposing ``vocab_size`` (HFTokenizer) gives a
   seeded sample of its vocabulary, keeping a decoded token only where that string encodes to
   exactly one token (drops special/added tokens, byte fragments and spellings that re-split).
   Any other tokenizer (built-in words, remote /tokenize) uses the pseudo-words of
   :data:`~tokenswarm.tokenizer.WORD_VOCAB`: one token each for the built-in tokenizer, a few
   for a real model's BPE, which step 3 trims.
2. Candidate = prefix + start word + continuation words, one word per wanted token. With
   one-token words and a pre-tokenizer that splits at spaces, its count is already exact.
3. Verify and correct: count (one parallel ``count_batch`` for the pool when offered); while
   ``len(encode(text)) != N``: too long -> ``text = decode(encode(text)[:N])``, too short ->
   append ``N - count`` continuation words. At most :data:`MAX_FIT_ROUNDS` rounds, else
   UserError. Over a remote tokenizer that is typically 3 round trips per prompt: /tokenize,
   /detokenize of the first N ids, /tokenize to verify.

Generation runs once, up front (a pool), never in the request timing path.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tokenswarm.errors import UserError
from tokenswarm.tokenizer import WORD_VOCAB, Tokenizer

MAX_FIT_ROUNDS = 8
# Vocabulary ids decoded per pool (seeded sample): ~40 ms for an HF tokenizer, ample variety.
_VOCAB_SAMPLE = 32768
# Words kept per kind: bounds the one-token check; prompts of random words from thousands of
# choices differ from their first token on.
_MAX_WORDS = 8192
_MIN_WORDS = 64
_START_RE = re.compile(r"[A-Za-z]{2,12}")
_CONT_RE = re.compile(r" [A-Za-z]{2,12}")


@dataclass(frozen=True)
class WordPool:
    """Strings meant to be one token each: ``start`` opens a text, ``cont`` (leading space)
    continues it."""

    start: tuple[str, ...]
    cont: tuple[str, ...]

    def text(self, rng: random.Random, words: int, *, opening: bool) -> str:
        """``words`` random words; ``opening`` starts with a start word (no leading space)."""
        if words <= 0:
            return ""
        if opening:
            return rng.choice(self.start) + "".join(rng.choices(self.cont, k=words - 1))
        return "".join(rng.choices(self.cont, k=words))


def pseudo_word_pool() -> WordPool:
    """The built-in pseudo-words: exactly one token each for the built-in WordTokenizer."""
    return WordPool(start=WORD_VOCAB, cont=tuple(" " + w for w in WORD_VOCAB))


def vocab_word_pool(tokenizer: Tokenizer, vocab_size: int, rng: random.Random) -> WordPool:
    """Letter-only one-token strings from a seeded sample of the vocabulary (method, step 1)."""
    ids = rng.sample(range(vocab_size), min(vocab_size, _VOCAB_SAMPLE))
    decoded = [tokenizer.decode([i]) for i in ids]
    start = [s for s in decoded if _START_RE.fullmatch(s)][:_MAX_WORDS]
    cont = [s for s in decoded if _CONT_RE.fullmatch(s)][:_MAX_WORDS]
    counts = count_all(tokenizer, start + cont)
    one = [s for s, c in zip(start + cont, counts, strict=True) if c == 1]
    start_ok = tuple(s for s in one if s[0] != " ")
    cont_ok = tuple(s for s in one if s[0] == " ")
    if len(start_ok) < _MIN_WORDS or len(cont_ok) < _MIN_WORDS:
        return pseudo_word_pool()
    return WordPool(start=start_ok, cont=cont_ok)


def word_pool(tokenizer: Tokenizer | None, rng: random.Random) -> WordPool:
    """The best word pool for ``tokenizer`` (vocabulary sample if it exposes ``vocab_size``)."""
    vocab_size = getattr(tokenizer, "vocab_size", None)
    if tokenizer is not None and isinstance(vocab_size, int) and vocab_size > 0:
        return vocab_word_pool(tokenizer, vocab_size, rng)
    return pseudo_word_pool()


def _batch_counter(tokenizer: Tokenizer) -> Callable[[Sequence[str]], list[int]] | None:
    batch = getattr(tokenizer, "count_batch", None)
    return batch if callable(batch) else None


def count_all(tokenizer: Tokenizer, texts: Sequence[str]) -> list[int]:
    """Token counts of ``texts``, in one parallel call when the tokenizer has ``count_batch``."""
    batch = _batch_counter(tokenizer)
    return list(batch(texts)) if batch else [tokenizer.count(t) for t in texts]


def fit_to_length(
    tokenizer: Tokenizer, text: str, n: int, pool: WordPool, rng: random.Random
) -> str:
    """``text`` trimmed (by tokens) or extended (by words) until it encodes to exactly ``n``
    tokens; trimming keeps the first ``n`` ids, so a prefix shorter than ``n`` survives."""
    counts: list[int] = []
    for _ in range(MAX_FIT_ROUNDS):
        ids = tokenizer.encode(text)
        counts.append(len(ids))
        if len(ids) == n:
            return text
        if len(ids) > n:
            text = tokenizer.decode(ids[:n])
        else:
            text += pool.text(rng, n - len(ids), opening=not text)
    raise UserError(
        f"cannot build a prompt of exactly {n} tokens with tokenizer {tokenizer.name} "
        f"(counts per try: {counts}); use a dataset (--dataset) or another tokenizer"
    )


def synthesize_prompts(
    tokenizer: Tokenizer | None,
    *,
    input_tokens: int,
    count: int,
    seed: int,
    prefix_tokens: int = 0,
) -> list[str]:
    """``count`` random prompts of exactly ``input_tokens`` tokens each, the first
    ``prefix_tokens`` of them shared by all prompts.

    Deterministic for a given tokenizer and ``seed``. With ``tokenizer=None`` the length is
    ``input_tokens`` built-in pseudo-words, unverified (the caller then relies on the server's
    ``usage.prompt_tokens``). Raises UserError for impossible arguments or when a tokenizer
    defeats the correction loop.
    """
    if input_tokens < 1 or count < 1:
        raise UserError(f"input tokens ({input_tokens}) and pool size ({count}) must be >= 1")
    if not 0 <= prefix_tokens <= input_tokens:
        raise UserError(
            f"prefix tokens ({prefix_tokens}) must be between 0 and input tokens ({input_tokens})"
        )
    rng = random.Random(seed)
    pool = word_pool(tokenizer, rng)
    prefix = pool.text(rng, prefix_tokens, opening=True)
    if tokenizer is not None and prefix:
        prefix = fit_to_length(tokenizer, prefix, prefix_tokens, pool, rng)
    texts = [
        prefix + pool.text(rng, input_tokens - prefix_tokens, opening=not prefix)
        for _ in range(count)
    ]
    if tokenizer is None:
        return texts
    batch = _batch_counter(tokenizer)
    # Without a batch counter go straight to fit_to_length: its first encode is the check, so
    # a remote tokenizer costs no extra round trip.
    counts: Sequence[int | None] = batch(texts) if batch else [None] * count
    return [
        text if c == input_tokens else fit_to_length(tokenizer, text, input_tokens, pool, rng)
        for text, c in zip(texts, counts, strict=True)
    ]
