"""Prompt sources and the pool the load generator draws from.

One entry point, :func:`build_prompt_pool`, turns a dataset spec into a :class:`PromptPool`,
built once per process before the run; ``PromptPool.next()`` is then O(1) in the timing path.

Dataset specs:

- ``None`` / ``"synthetic"``: token-exact random prompts (:mod:`tokenswarm.prompts`).
- ``PATH.jsonl`` or ``jsonl:PATH``: one JSON object per line, ``{"prompt": "..."}`` or
  ``{"messages": [{"role": ..., "content": ...}, ...]}``, optionally ``"output_tokens"`` (or
  ``"max_tokens"``) for the desired output length. A bad line is a UserError naming the line.
- ``PATH.json`` or ``sharegpt:PATH``: a ShareGPT list of ``{"conversations": [{"from":
  "human"|"gpt", "value": ...}, ...]}``. As in vLLM's benchmark, prompt = first human turn and
  desired output length = token count of the gpt turn that follows it. Malformed entries are
  skipped and counted (:attr:`PromptPool.skipped`).

File datasets are shuffled with ``seed``, then tokenized in that order, filtered by
:class:`TokenFilter` and kept until ``pool_size`` prompts pass: a 90k-entry ShareGPT file costs
only the tokenization of what is sampled. The pool cycles when exhausted. Give each worker
process its own seed (e.g. base seed + worker index) so that workers send different prompts.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenswarm.errors import UserError
from tokenswarm.prompts import count_all, synthesize_prompts
from tokenswarm.tokenizer import Tokenizer

_SPEC_HINT = "use 'synthetic', a .jsonl file, a ShareGPT .json file, or jsonl:PATH / sharegpt:PATH"
# Records tokenized per batch while sampling a file dataset (one parallel call each).
_CHUNK = 256


@dataclass(frozen=True)
class Prompt:
    """One request's prompt.

    ``messages`` is the chat form when the dataset has one (None: the caller wraps ``text`` as
    one user message). ``text`` is what /v1/completions sends; for a messages record it is the
    contents joined by newlines. ``input_tokens`` is the tokenizer count of ``text`` (chat
    template tokens excluded; None without a tokenizer). ``output_tokens`` is the dataset's
    desired output length (None: use the configured one).
    """

    messages: list[dict[str, str]] | None
    text: str
    input_tokens: int | None
    output_tokens: int | None


@dataclass(frozen=True)
class TokenFilter:
    """Inclusive token bounds for file datasets; None = unbounded. A record whose output length
    is unknown (JSONL without ``output_tokens``) passes the output bounds."""

    min_input: int | None = None
    max_input: int | None = None
    min_output: int | None = None
    max_output: int | None = None

    def active(self) -> bool:
        return any(
            v is not None
            for v in (self.min_input, self.max_input, self.min_output, self.max_output)
        )

    def accepts(self, input_tokens: int | None, output_tokens: int | None) -> bool:
        return _within(input_tokens, self.min_input, self.max_input) and _within(
            output_tokens, self.min_output, self.max_output
        )


def _within(value: int | None, low: int | None, high: int | None) -> bool:
    if value is None:
        return True
    return (low is None or value >= low) and (high is None or value <= high)


class PromptPool:
    """Prompts prepared up front; :meth:`next` cycles through them in order."""

    def __init__(
        self, prompts: Sequence[Prompt], *, source: str, skipped: int = 0, filtered: int = 0
    ) -> None:
        if not prompts:
            raise UserError(f"{source}: no prompts")
        self.prompts: tuple[Prompt, ...] = tuple(prompts)
        self.source = source
        self.skipped = skipped  # malformed ShareGPT entries
        self.filtered = filtered  # well-formed records rejected by the token filter
        self._cycle = itertools.cycle(self.prompts)

    def __len__(self) -> int:
        return len(self.prompts)

    def next(self) -> Prompt:
        return next(self._cycle)

    def describe(self) -> str:
        """One line for the run log, e.g. ``sharegpt:x.json: 128 prompts (3 skipped, ...)``."""
        return (
            f"{self.source}: {len(self)} prompts ({self.skipped} malformed entries skipped, "
            f"{self.filtered} filtered out)"
        )


@dataclass(frozen=True)
class _Record:
    """A parsed dataset entry; ``output_text`` (ShareGPT) is tokenized only when sampled."""

    text: str
    messages: list[dict[str, str]] | None = None
    output_tokens: int | None = None
    output_text: str | None = None


def parse_dataset_spec(spec: str | None) -> tuple[str, Path | None]:
    """``(kind, path)``: kind is synthetic, jsonl or sharegpt; UserError for anything else."""
    if spec is None or spec in ("", "synthetic"):
        return "synthetic", None
    for kind in ("jsonl", "sharegpt"):
        if spec.startswith(kind + ":"):
            return kind, _existing(spec[len(kind) + 1 :])
    if spec.endswith(".jsonl"):
        return "jsonl", _existing(spec)
    if spec.endswith(".json"):
        return "sharegpt", _existing(spec)
    raise UserError(f"unknown dataset {spec!r}: {_SPEC_HINT}")


def _existing(path: str) -> Path:
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise UserError(f"dataset file not found: {path} ({_SPEC_HINT})")
    return resolved


def _load_jsonl(path: Path) -> list[_Record]:
    """Every non-blank line of ``path`` as a record; UserError naming the first bad line."""
    records = []
    with path.open(encoding="utf-8") as lines:
        for lineno, line in enumerate(lines, 1):
            if line.strip():
                records.append(_jsonl_record(line, f"{path}:{lineno}"))
    if not records:
        raise UserError(f"{path}: empty dataset (no JSON lines)")
    return records


def _jsonl_record(line: str, where: str) -> _Record:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: invalid JSON ({exc.msg})") from exc
    if not isinstance(obj, dict) or ("prompt" in obj) == ("messages" in obj):
        raise UserError(f"{where}: expected an object with either 'prompt' or 'messages'")
    output = obj.get("output_tokens", obj.get("max_tokens"))
    if output is not None and (type(output) is not int or output < 1):
        raise UserError(f"{where}: output_tokens/max_tokens must be a positive integer")
    if "prompt" in obj:
        if not isinstance(obj["prompt"], str) or not obj["prompt"]:
            raise UserError(f"{where}: 'prompt' must be a non-empty string")
        return _Record(text=obj["prompt"], output_tokens=output)
    messages = obj["messages"]
    if (
        not isinstance(messages, list)
        or not messages
        or not all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in messages
        )
    ):
        raise UserError(
            f"{where}: 'messages' must be a non-empty list of "
            "{'role': str, 'content': str} objects (text content only)"
        )
    messages = [{"role": m["role"], "content": m["content"]} for m in messages]
    text = "\n".join(m["content"] for m in messages)
    return _Record(text=text, messages=messages, output_tokens=output)


def _load_sharegpt(path: Path) -> tuple[list[_Record], int]:
    """``(records, skipped)`` from a ShareGPT JSON list; UserError if it is not one."""
    try:
        with path.open(encoding="utf-8") as f:
            entries = json.load(f)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(entries, list):
        raise UserError(f"{path}: expected a ShareGPT JSON list of {{'conversations': [...]}}")
    records = [r for r in map(_sharegpt_record, entries) if r is not None]
    if not records:
        raise UserError(
            f"{path}: no usable conversation (human turn followed by a gpt turn) "
            f"among {len(entries)} entries"
        )
    return records, len(entries) - len(records)


def _sharegpt_record(entry: Any) -> _Record | None:
    """The first human turn and the gpt turn right after it; None if the entry has no such pair
    of string turns."""
    turns = entry.get("conversations") if isinstance(entry, dict) else None
    if not isinstance(turns, list):
        return None
    for turn, reply in itertools.pairwise(turns):
        if isinstance(turn, dict) and turn.get("from") == "human":
            if not isinstance(reply, dict) or reply.get("from") != "gpt":
                return None
            prompt, answer = turn.get("value"), reply.get("value")
            ok = isinstance(prompt, str) and prompt and isinstance(answer, str)
            return _Record(text=prompt, output_text=answer) if ok else None
    return None


def _sample(
    records: list[_Record], tokenizer: Tokenizer | None, token_filter: TokenFilter, limit: int
) -> tuple[list[Prompt], int]:
    """Up to ``limit`` prompts from ``records`` (already shuffled) and the number filtered."""
    prompts: list[Prompt] = []
    filtered = 0
    for start in range(0, len(records), _CHUNK):
        chunk = records[start : start + _CHUNK]
        inputs: list[int | None] = [None] * len(chunk)
        outputs: list[int | None] = [r.output_tokens for r in chunk]
        if tokenizer is not None:
            inputs = list(count_all(tokenizer, [r.text for r in chunk]))
            replies = [(i, r.output_text) for i, r in enumerate(chunk) if r.output_text is not None]
            for (i, _), n in zip(
                replies, count_all(tokenizer, [t for _, t in replies]), strict=True
            ):
                outputs[i] = n
        for record, n_in, n_out in zip(chunk, inputs, outputs, strict=True):
            if not token_filter.accepts(n_in, n_out):
                filtered += 1
            elif len(prompts) < limit:
                prompts.append(Prompt(record.messages, record.text, n_in, n_out))
        if len(prompts) >= limit:
            break
    return prompts, filtered


def build_prompt_pool(
    dataset: str | None,
    *,
    input_tokens: int,
    tokenizer: Tokenizer | None,
    seed: int,
    pool_size: int = 128,
    prefix_tokens: int = 0,
    token_filter: TokenFilter | None = None,
) -> PromptPool:
    """The prompt pool for ``dataset`` (spec: see module docstring).

    Synthetic: ``pool_size`` prompts of exactly ``input_tokens`` tokens, the first
    ``prefix_tokens`` shared. Files: up to ``pool_size`` records, shuffled with ``seed``,
    passing ``token_filter`` (``input_tokens``/``prefix_tokens`` do not apply). Token filters
    need a tokenizer. ``filtered`` counts only the records tokenized before the pool filled.
    """
    if pool_size < 1:
        raise UserError(f"pool size must be >= 1, got {pool_size}")
    kind, path = parse_dataset_spec(dataset)
    if kind == "synthetic":
        texts = synthesize_prompts(
            tokenizer,
            input_tokens=input_tokens,
            count=pool_size,
            seed=seed,
            prefix_tokens=prefix_tokens,
        )
        n_in = input_tokens if tokenizer is not None else None
        return PromptPool([Prompt(None, t, n_in, None) for t in texts], source="synthetic")
    token_filter = token_filter or TokenFilter()
    if token_filter.active() and tokenizer is None:
        raise UserError(
            "token filters need a tokenizer: give --tokenizer or use a server with /tokenize"
        )
    assert path is not None  # parse_dataset_spec returns a path for file kinds
    records, skipped = _load_sharegpt(path) if kind == "sharegpt" else (_load_jsonl(path), 0)
    random.Random(seed).shuffle(records)
    prompts, filtered = _sample(records, tokenizer, token_filter, pool_size)
    source = f"{kind}:{path}"
    if not prompts:
        raise UserError(
            f"{source}: no prompt passes the token filters ({filtered} filtered "
            "out); widen the min/max token bounds"
        )
    return PromptPool(prompts, source=source, skipped=skipped, filtered=filtered)


def check_dataset(dataset: str | None) -> None:
    """Load a file dataset once, so a missing, empty or malformed file is a one-line UserError
    before any load starts (the per-process pools are built only when the test starts)."""
    kind, path = parse_dataset_spec(dataset)
    if path is not None:
        if kind == "sharegpt":
            _load_sharegpt(path)
        else:
            _load_jsonl(path)
