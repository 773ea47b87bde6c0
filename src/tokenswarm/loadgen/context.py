"""Per-process load context: resolved model and profile, prompt pool, request bodies.

Built once per test in each load process (Locust passes custom options to workers only at
spawn time, so it is built at ``test_start``, not at ``init``), and shared by all users of the
process. Everything expensive (model discovery, tokenizer, prompt synthesis) happens here,
before the first request, never in the timing path.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import orjson
import requests

from tokenswarm.datasets import Prompt, PromptPool, build_prompt_pool
from tokenswarm.loadgen.options import LoadOptions
from tokenswarm.preflight import auth_headers, check_target, normalize_base_url
from tokenswarm.profiles import EngineProfile, detect_profile, get_profile
from tokenswarm.remote_tokenizer import probe
from tokenswarm.stages import StageInfo
from tokenswarm.tokenizer import Tokenizer, load_tokenizer

log = logging.getLogger("tokenswarm")

CHAT_PATH = "/v1/chat/completions"
COMPLETIONS_PATH = "/v1/completions"


def worker_name() -> str:
    return f"{socket.gethostname().split('.')[0]}:{os.getpid()}"


class LoadContext:
    """What every user of this process needs to build and send requests."""

    def __init__(self, opts: LoadOptions, host: str, worker_index: int = 0) -> None:
        self.opts = opts
        self.base_url = normalize_base_url(host)
        target = check_target(self.base_url, opts.model, opts.api_key)
        self.model = target.model
        self.profile: EngineProfile = (
            detect_profile(target.owned_by) if opts.engine == "auto" else get_profile(opts.engine)
        )
        self.headers = auth_headers(opts.api_key)
        self.tokenizer = self._tokenizer()
        self._seed = opts.seed * 1000 + worker_index  # distinct per worker, reproducible
        self._pools: dict[int, PromptPool] = {}
        self.prompts = self._pool(opts.input_tokens)
        self.output_tokens = opts.output_tokens
        self.worker = worker_name()
        log.info(
            "tokenswarm: model %s, engine profile %s, tokenizer %s, dataset %s",
            self.model,
            self.profile.name,
            self.tokenizer.name,
            opts.dataset,
        )

    def _pool(self, input_tokens: int) -> PromptPool:
        """The prompt pool for a prompt length (built once per length: stages reuse them)."""
        pool = self._pools.get(input_tokens)
        if pool is None:
            pool = self._pools[input_tokens] = build_prompt_pool(
                self.opts.dataset,
                input_tokens=input_tokens,
                tokenizer=self.tokenizer,
                seed=self._seed,
            )
        return pool

    def apply_stage(self, stage: StageInfo) -> None:
        """Use the stage's prompt and output lengths for the next requests (a dataset's own
        prompts stay as they are: its file decides their lengths)."""
        self.prompts = self._pool(stage.input_tokens)
        self.output_tokens = stage.output_tokens

    def _tokenizer(self) -> Tokenizer:
        """--tokenizer, else the server's /tokenize, else the built-in word approximation."""
        if self.opts.tokenizer:
            return load_tokenizer(self.opts.tokenizer)
        session = requests.Session()
        session.headers.update(self.headers)
        remote = probe(self.base_url, self.model, session)
        if remote is not None:
            return remote
        log.warning(
            "tokenswarm: %s has no /tokenize and no --tokenizer was given: prompt lengths are "
            "approximate (compare input_tokens in the summary)",
            self.base_url,
        )
        return load_tokenizer(None)

    def request(self, chat: bool) -> tuple[str, bytes, Prompt, int]:
        """(path, JSON body, prompt, requested output tokens) of the next request."""
        prompt = self.prompts.next()
        out_tokens = prompt.output_tokens or self.output_tokens
        body: dict[str, Any] = {"model": self.model, "max_tokens": out_tokens}
        body.update(self.profile.request_extras(out_tokens))
        if chat:
            body["messages"] = prompt.messages or [{"role": "user", "content": prompt.text}]
            path = CHAT_PATH
        else:
            body["prompt"] = prompt.text
            path = COMPLETIONS_PATH
        return path, orjson.dumps(body), prompt, out_tokens
