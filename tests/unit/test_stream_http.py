"""tokenswarm's socket-level HTTP/1.1 + SSE reading against a scripted server (real sockets).

The server thread answers each request with scripted bytes cut into small pieces, so heads,
chunk sizes, chunk data and SSE events arrive split at awkward places.
"""

from __future__ import annotations

import socket
import threading
import time

import orjson
import pytest

from tokenswarm.loadgen.stream_client import StreamClient, StreamResult

EVENTS = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
    {"choices": [{"index": 0, "delta": {"content": " a"}}], "usage": {"completion_tokens": 1}},
    {"choices": [{"index": 0, "delta": {"content": " b"}}], "usage": {"completion_tokens": 2}},
    {"choices": [{"index": 0, "delta": {"content": " c"}}], "usage": {"completion_tokens": 3}},
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
    {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3}},
]
SSE = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in EVENTS) + b"data: [DONE]\n\n"
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"


def chunked(body: bytes, size: int = 40) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


class ScriptedServer:
    """Answers every request with ``response`` in ``piece``-byte writes; ``close_after`` closes
    the connection after that response (as a server ending an idle keep-alive would)."""

    def __init__(self, response: bytes, piece: int = 7, close_after: bool = False) -> None:
        self.response, self.piece, self.close_after = response, piece, close_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, rest = buf.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(rest) < length:
                    rest += conn.recv(65536)
                buf = rest[length:]
                for i in range(0, len(self.response), self.piece):
                    conn.sendall(self.response[i : i + self.piece])
                    time.sleep(0.0005)  # separate reads on the client side
                if self.close_after:
                    return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve():
    servers: list[ScriptedServer] = []

    def start(*args, **kwargs) -> ScriptedServer:
        servers.append(ScriptedServer(*args, **kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _stream(client: StreamClient) -> StreamResult:
    return client.stream("/v1/chat/completions", b"{}", StreamResult())


def _client(url: str, idle: float = 5.0) -> StreamClient:
    return StreamClient(
        url, connect_timeout=2, first_token_timeout=5, idle_timeout=idle, headers={}
    )


def _assert_complete(result: StreamResult) -> None:
    assert result.error_class is None, result.error_detail
    assert len(result.chunk_ns) == 3
    assert list(result.chunk_cumulative) == [1, 2, 3]
    assert result.finish_reason == "length"
    assert (result.completion_tokens, result.prompt_tokens) == (3, 5)
    assert result.t_send_ns < result.chunk_ns[0] <= result.chunk_ns[1] <= result.chunk_ns[2]


@pytest.mark.parametrize("piece", [1, 7, 64, 4096])
def test_chunked_stream_split_anywhere_and_connection_reused(serve, piece):
    server = serve(HEAD + b"transfer-encoding: chunked\r\n\r\n" + chunked(SSE), piece=piece)
    client = _client(server.url)
    try:
        _assert_complete(_stream(client))
        _assert_complete(_stream(client))
    finally:
        client.close()
    assert server.connections == 1


def test_content_length_and_close_delimited_bodies(serve):
    for framing in (b"content-length: %d\r\n\r\n" % len(SSE), b"connection: close\r\n\r\n"):
        server = serve(HEAD + framing + SSE, piece=50, close_after=b"close" in framing)
        client = _client(server.url)
        try:
            _assert_complete(_stream(client))
            _assert_complete(_stream(client))
        finally:
            client.close()


def test_keep_alive_closed_by_the_server_is_reopened_once(serve):
    server = serve(HEAD + b"transfer-encoding: chunked\r\n\r\n" + chunked(SSE), close_after=True)
    client = _client(server.url)
    try:
        _assert_complete(_stream(client))
        _assert_complete(_stream(client))  # the kept connection was closed: re-sent on a new one
    finally:
        client.close()
    assert server.connections == 2


def test_body_cut_mid_stream_is_truncated(serve):
    body = chunked(SSE)[: len(chunked(SSE)) // 2]
    server = serve(HEAD + b"transfer-encoding: chunked\r\n\r\n" + body, close_after=True)
    client = _client(server.url)
    try:
        result = _stream(client)
    finally:
        client.close()
    assert result.error_class == "stream_truncated"
    assert len(result.chunk_ns) >= 1


def test_error_status_reads_the_message(serve):
    body = b'{"error": {"message": "slow down", "code": 429}}'
    server = serve(b"HTTP/1.1 429 Too Many\r\ncontent-length: %d\r\n\r\n%b" % (len(body), body))
    client = _client(server.url)
    try:
        result = _stream(client)
    finally:
        client.close()
    assert (result.error_class, result.error_detail) == ("http_429", "slow down")
