"""Reference client 2: aiohttp in the style of vLLM's ``benchmark_serving.py``.

Per request: ``session.post(json=payload)``, ``async for chunk_bytes in response.content``
(aiohttp's line iterator), ``strip``, ``decode``, ``removeprefix("data: ")``, one
``json.loads`` per event and ``perf_counter`` stamps, as vLLM's
``async_request_openai_chat_completions`` does (its stamp is taken for every event with
choices; here only for events with content, so TTFT means the same for every client).
Plain asyncio loop, one shared ClientSession, as vLLM's benchmark. Run by
``benchmarks/client_capacity.py``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from array import array
from typing import Any

import aiohttp
from common import PATH, Records, body, parse_args


async def one_request(
    session: aiohttp.ClientSession, url: str, payload: dict[str, Any], records: Records
) -> None:
    """One request; recorded when it ends or is cancelled by the stop."""
    stamps = array("q")
    t_send = time.perf_counter_ns()
    try:
        async with session.post(url=url, json=payload) as response:
            if response.status != 200:
                raise SystemExit(f"HTTP {response.status}")
            async for chunk_bytes in response.content:
                chunk_bytes = chunk_bytes.strip()
                if not chunk_bytes:
                    continue
                chunk = chunk_bytes.decode("utf-8").removeprefix("data: ")
                if chunk != "[DONE]":
                    timestamp = time.perf_counter_ns()
                    data = json.loads(chunk)
                    if choices := data.get("choices"):
                        if choices[0]["delta"].get("content"):
                            stamps.append(timestamp)
                    elif usage := data.get("usage"):
                        _ = usage.get("completion_tokens")
    finally:
        records.add(t_send, stamps)


async def stream_loop(
    session: aiohttp.ClientSession, url: str, payload: dict[str, Any], records: Records
) -> None:
    while True:
        await one_request(session, url, payload, records)


async def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0])
    payload = body(args.input_tokens, args.output_tokens)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    records = Records()
    timeout = aiohttp.ClientTimeout(total=6 * 60 * 60)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        tasks = []
        for _ in range(args.streams):
            if stop.done():
                break
            tasks.append(
                asyncio.create_task(stream_loop(session, args.url + PATH, payload, records))
            )
            await asyncio.sleep(args.ramp / args.streams)
        await stop
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        records.write(args.out)


if __name__ == "__main__":
    asyncio.run(main())
