"""The server's own tokenizer, over its vLLM-style ``/tokenize`` and ``/detokenize`` endpoints.

Why: the server is the authority on how many tokens a prompt has. When the user gives no
``--tokenizer``, prompts built through these endpoints are exact for the served model without
any local files. vLLM (and the built-in simulated engine) serve them at the server root::

    POST {base}/tokenize    {"model": M, "prompt": text, "add_special_tokens": false}
                            -> {"count": n, "tokens": [ids], "max_model_len": L}
    POST {base}/detokenize  {"model": M, "tokens": [ids]} -> {"prompt": text}

``base`` is the server root; a trailing ``/v1`` is dropped because vLLM mounts these endpoints
beside ``/v1``, not under it. This module uses ``requests``: the load generator imports it after
locust's gevent monkey patching, so the calls cooperate with greenlets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import requests

from tokenswarm.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 30.0


def server_root(base_url: str) -> str:
    """``base_url`` without trailing slashes and without a trailing ``/v1``."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


class RemoteTokenizer:
    """The :class:`~tokenswarm.tokenizer.Tokenizer` protocol over HTTP (one call per method)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        session: requests.Session,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_model_len: int | None = None,
    ) -> None:
        self.root = server_root(base_url)
        self.model = model
        self.session = session
        self.timeout_s = timeout_s
        # Context length the server reported, when it did (vLLM does): lets callers reject an
        # input + output length the model cannot hold before the run starts.
        self.max_model_len = max_model_len
        self.name = f"remote:{self.root}/tokenize"

    def _post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.root}/{endpoint}"
        try:
            response = self.session.post(url, json=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise UserError(f"POST {url} failed: {exc}") from exc
        if response.status_code != 200:
            raise UserError(f"POST {url}: HTTP {response.status_code}: {response.text[:200]}")
        try:
            data = response.json()
        except ValueError as exc:
            raise UserError(f"POST {url}: response is not JSON: {response.text[:200]}") from exc
        if not isinstance(data, dict):
            raise UserError(f"POST {url}: expected a JSON object, got {type(data).__name__}")
        return data

    def tokenize(self, text: str) -> dict[str, Any]:
        """The raw ``/tokenize`` answer for ``text`` (``tokens`` checked to be a list of ints)."""
        body = {"model": self.model, "prompt": text, "add_special_tokens": False}
        data = self._post("tokenize", body)
        tokens = data.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
            raise UserError(f"POST {self.root}/tokenize: no list of token ids in the answer")
        return data

    def encode(self, text: str) -> list[int]:
        return list(self.tokenize(text)["tokens"])

    def decode(self, ids: Sequence[int]) -> str:
        data = self._post("detokenize", {"model": self.model, "tokens": list(ids)})
        text = data.get("prompt")
        if not isinstance(text, str):
            raise UserError(f"POST {self.root}/detokenize: no 'prompt' text in the answer")
        return text

    def count(self, text: str) -> int:
        return len(self.encode(text))


def probe(
    base_url: str,
    model: str,
    session: requests.Session,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> RemoteTokenizer | None:
    """A :class:`RemoteTokenizer` when the server answers ``/tokenize``, else None.

    Any failure (404/405 for servers without the endpoint, connection errors, an answer
    without token ids) returns None so the caller can fall back to a local tokenizer; the
    reason is logged at INFO.
    """
    remote = RemoteTokenizer(base_url, model, session, timeout_s=timeout_s)
    try:
        data = remote.tokenize("Hello, world")
    except UserError as exc:
        log.info("no usable /tokenize endpoint: %s", exc)
        return None
    max_len = data.get("max_model_len")
    remote.max_model_len = max_len if isinstance(max_len, int) and max_len > 0 else None
    return remote
