"""Reference client 1: a lean raw-socket asyncio client (uvloop where installed).

No HTTP library: one :class:`asyncio.Protocol` per stream parses the chunked response itself,
stamps each ``data_received`` once with ``perf_counter_ns`` and decodes every SSE event with
orjson (a token event has non-empty ``choices[0].delta.content``). The floor of what a Python
client can cost per token. Run by ``benchmarks/client_capacity.py``.
"""

from __future__ import annotations

import asyncio
import signal
import time
from array import array

import orjson

try:
    import uvloop
except ImportError:  # plain asyncio: still lean, a little slower
    uvloop = None

from common import PATH, Records, body, parse_args


class Stream(asyncio.Protocol):
    """One closed-loop stream: the next request goes out when the previous one ended.

    At the stop, the request in flight is recorded with the events it got so far.
    """

    def __init__(self, request: bytes, records: Records) -> None:
        self.request = request
        self.records = records
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.events = b""
        self.in_body = False
        self.t_send = 0
        self.stamps = array("q")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  (uvloop's is not a subclass)
        self.send()

    def send(self) -> None:
        self.buf, self.events, self.in_body, self.stamps = b"", b"", False, array("q")
        self.t_send = time.perf_counter_ns()
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        buf = self.buf + data
        if not self.in_body:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"HTTP error: {buf[:200]!r}")
            buf, self.in_body = buf[end + 4 :], True
        while True:  # de-chunk
            eol = buf.find(b"\r\n")
            if eol < 0:
                break
            size = int(buf[:eol], 16)
            if len(buf) < eol + 2 + size + 2:
                break
            if size == 0:
                self.finish()
                return
            self.events += buf[eol + 2 : eol + 2 + size]
            buf = buf[eol + 4 + size :]
        self.buf = buf
        events = self.events.split(b"\n\n")
        self.events = events.pop()
        for event in events:
            payload = event[6:]
            if payload == b"[DONE]":
                continue
            choices = orjson.loads(payload).get("choices")
            if choices and choices[0].get("delta", {}).get("content"):
                self.stamps.append(now)

    def finish(self) -> None:
        self.records.add(self.t_send, self.stamps)
        self.send()


async def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0])
    host, port = args.url.removeprefix("http://").rsplit(":", 1)
    payload = orjson.dumps(body(args.input_tokens, args.output_tokens))
    request = (
        f"POST {PATH} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"accept: text/event-stream\r\ncontent-length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    records = Records()
    streams: list[Stream] = []
    for _ in range(args.streams):
        if stop.done():
            break
        _, stream = await loop.create_connection(lambda: Stream(request, records), host, int(port))
        streams.append(stream)
        await asyncio.sleep(args.ramp / args.streams)
    await stop
    for stream in streams:
        records.add(stream.t_send, stream.stamps)
    records.write(args.out)


if __name__ == "__main__":
    if uvloop is not None:
        uvloop.run(main())
    else:
        asyncio.run(main())
