"""Tokenizers: a real HF ``tokenizers`` model, or the built-in word tokenizer.

Both the load generator (token-exact prompts) and the simulated engine (exact
``usage.prompt_tokens``) count tokens through this one interface, so a prompt built for N tokens
is counted as N tokens by the simulator when both use the same tokenizer.

The built-in :class:`WordTokenizer` needs no files: a token is a word (``\\w+``) or one
punctuation character. It is what the simulated engine uses when no ``--tokenizer`` is given,
and its ``/tokenize`` endpoint exposes it, so the client can build exact prompts against it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from tokenswarm.errors import UserError

_WORD_RE = re.compile(r"\w+|[^\w\s]")

# A fixed, deterministic vocabulary of pronounceable pseudo-words: every word is exactly one
# WordTokenizer token, so synthetic prompts of an exact length are trivial to build.
_CONSONANTS = "bcdfghklmnprstvz"
_VOWELS = "aeiou"
WORD_VOCAB: tuple[str, ...] = tuple(
    c1 + v1 + c2 + v2 for c1 in _CONSONANTS for v1 in _VOWELS for c2 in _CONSONANTS for v2 in "ao"
)


class Tokenizer(Protocol):
    """What tokenswarm needs of a tokenizer."""

    name: str

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, without special tokens."""
        ...

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``."""
        ...

    def count(self, text: str) -> int:
        """Number of tokens of ``text`` (``len(encode(text))``)."""
        ...


class WordTokenizer:
    """Built-in tokenizer: one token per word or punctuation mark.

    Ids of vocabulary words are their index in :data:`WORD_VOCAB`; other words get a stable
    crc32-derived id above the vocabulary (decoded as ``<unk>``).
    """

    name = "builtin-words"

    def __init__(self) -> None:
        self._ids = {word: i for i, word in enumerate(WORD_VOCAB)}

    def encode(self, text: str) -> list[int]:
        vocab_size = len(WORD_VOCAB)
        return [
            self._ids.get(tok, vocab_size + zlib.crc32(tok.encode()) % 1_000_000)
            for tok in _WORD_RE.findall(text)
        ]

    def decode(self, ids: Sequence[int]) -> str:
        return " ".join(WORD_VOCAB[i] if 0 <= i < len(WORD_VOCAB) else "<unk>" for i in ids)

    def count(self, text: str) -> int:
        return len(_WORD_RE.findall(text))


class HFTokenizer:
    """A Hugging Face ``tokenizers`` model loaded from ``tokenizer.json``.

    Beyond the :class:`Tokenizer` protocol it offers ``vocab_size`` (base vocabulary, added
    tokens excluded) and ``count_batch``: prompt synthesis samples words from the vocabulary
    and verifies a whole pool of prompts in one parallel call.
    """

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer as _HFTokenizer

        try:
            self._tok = _HFTokenizer.from_file(str(path))
        except Exception as exc:  # the library raises a bare Exception on a bad file
            raise UserError(f"cannot load tokenizer {path}: {exc}") from exc
        self.name = str(path)
        self.vocab_size: int = self._tok.get_vocab_size(with_added_tokens=False)

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self._tok.decode(list(ids), skip_special_tokens=False))

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        """Token counts of many texts; the library encodes them on all cores."""
        return [len(e.ids) for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]


def resolve_tokenizer_file(path: str | Path) -> Path:
    """``tokenizer.json`` itself, or the one inside a model directory; UserError if neither."""
    candidate = Path(path).expanduser()
    if candidate.is_dir():
        candidate = candidate / "tokenizer.json"
    if not candidate.is_file():
        raise UserError(
            f"tokenizer not found: {path} (give a tokenizer.json or a model directory "
            "that contains one)"
        )
    return candidate


def load_tokenizer(path: str | Path | None) -> Tokenizer:
    """The tokenizer at ``path`` (file or model directory), or the built-in one for None/''."""
    if not path or str(path) == WordTokenizer.name:
        return WordTokenizer()
    return HFTokenizer(resolve_tokenizer_file(path))
