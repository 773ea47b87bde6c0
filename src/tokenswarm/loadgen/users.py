"""Locust user classes: one streaming request in flight per user (users = concurrency).

Each request produces exactly one Locust request row (``response_time = e2e_ms``,
``response_length = output tokens``); failures carry their class (DESIGN.md section 3) as the
exception text. The exact metrics go to tokenswarm's own histograms, because Locust rounds
response times to ~2 significant digits.
"""

from __future__ import annotations

import logging
import time
from typing import ClassVar

import gevent
from locust import User, constant, task

from tokenswarm.collector import RequestRecord
from tokenswarm.loadgen.context import LoadContext
from tokenswarm.loadgen.runtime import RUNTIME
from tokenswarm.loadgen.stream_client import StreamClient, StreamResult
from tokenswarm.timing import derive_timing, tokens_per_chunk

log = logging.getLogger("tokenswarm")


class LLMFailure(Exception):
    """A classified request failure; str() is ``<class>: <detail>``."""


class _OpenAIStreamUser(User):
    abstract = True
    chat: ClassVar[bool] = True
    wait_time = constant(0)

    def on_start(self) -> None:
        ctx = RUNTIME.require_context(self.environment)
        self.ctx: LoadContext = ctx
        self.stream_client = StreamClient(
            ctx.base_url,
            connect_timeout=ctx.opts.connect_timeout,
            first_token_timeout=ctx.opts.first_token_timeout,
            idle_timeout=ctx.opts.idle_timeout,
            headers=ctx.headers,
        )

    def on_stop(self) -> None:
        self.stream_client.close()

    @task
    def generate(self) -> None:
        ctx = self.ctx
        path, body, prompt, out_tokens = ctx.request(self.chat)
        result = StreamResult(wall_send_ns=time.time_ns())
        RUNTIME.sent(result.wall_send_ns)
        try:
            self.stream_client.stream(path, body, result)
        except gevent.GreenletExit:
            try:
                record = _record(result, ctx.worker, prompt.input_tokens, out_tokens, done=False)
                RUNTIME.interrupted(record)
            except Exception:  # the user must stop even if recording failed
                log.exception("tokenswarm: could not record a request interrupted by the stop")
            raise
        record = _record(result, ctx.worker, prompt.input_tokens, out_tokens)
        RUNTIME.finished(record)
        elapsed_ms = (time.perf_counter_ns() - result.t_send_ns) / 1e6
        self.environment.events.request.fire(
            request_type="POST",
            name=path,
            response_time=record.timing.e2e_ms if record.timing else elapsed_ms,
            response_length=record.output_tokens or 0,
            exception=None
            if record.ok
            else LLMFailure(f"{record.error_class}: {record.error_detail[:120]}"),
            context={"ttft_ms": record.timing.ttft_ms if record.timing else None},
            start_time=result.wall_send_ns / 1e9,
            url=path,
            response=None,
        )


def _record(
    result: StreamResult,
    worker: str,
    expected_input: int | None,
    out_tokens: int,
    done: bool = True,
) -> RequestRecord:
    """Turn raw stream observations into a RequestRecord (metrics only for complete successes;
    ``done=False`` for a stream cut short by the test stopping)."""
    n_chunks = len(result.chunk_ns)
    if result.completion_tokens is not None:
        output_tokens, source = result.completion_tokens, "usage"
    else:
        output_tokens, source = n_chunks, "chunks"
    cumulative = result.chunk_cumulative or None
    ok = done and result.error_class is None and n_chunks > 0
    timing = (
        derive_timing(result.t_send_ns, result.chunk_ns, output_tokens, cumulative) if ok else None
    )
    offset = result.wall_send_ns - result.t_send_ns
    end_ns = result.chunk_ns[-1] if n_chunks else time.perf_counter_ns()
    return RequestRecord(
        start_wall_ns=result.wall_send_ns,
        end_wall_ns=end_ns + offset,
        worker=worker,
        error_class=result.error_class,
        error_detail=result.error_detail,
        timing=timing,
        input_tokens=result.prompt_tokens if result.prompt_tokens is not None else expected_input,
        expected_input_tokens=expected_input,
        output_tokens=output_tokens if ok else (output_tokens or None),
        requested_output_tokens=out_tokens,
        output_tokens_source=source,
        chunk_wall_ns=[ns + offset for ns in result.chunk_ns],
        chunk_tokens=tokens_per_chunk(n_chunks, output_tokens, cumulative),
    )


class OpenAIChatUser(_OpenAIStreamUser):
    """Streams ``POST /v1/chat/completions``."""

    chat = True


class OpenAICompletionsUser(_OpenAIStreamUser):
    """Streams ``POST /v1/completions``."""

    chat = False
