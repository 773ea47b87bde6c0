"""Per-request response writers: the engine's tokens become SSE events or one JSON response.

:class:`StreamSink` groups tokens into events (``tokens_per_chunk`` k: the first token alone, then
an event whenever k tokens are pending, at the last token, and at the reasoning/content boundary),
applies mid-stream faults, and ends the stream vLLM's way: finish chunk, optional usage chunk,
``[DONE]``, terminating zero-length chunk. Token i of a request is the word
``TOKEN_TEXT[(offset + i * WORD_STRIDE) % len(TOKEN_TEXT)]`` (offset drawn from the seeded RNG),
so the text is deterministic and every token is exactly one built-in-tokenizer token.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenswarm.sim import formats, http
from tokenswarm.sim.engine import BatchingEngine, FixedEngine, Sequence
from tokenswarm.sim.faults import Fault
from tokenswarm.sim.metrics import SimStats

WORD_STRIDE = 7  # coprime with the vocabulary size: consecutive tokens cycle through every word


def token_text(offset: int, index: int) -> bytes:
    """Text of token ``index`` of a request whose word offset is ``offset``."""
    return formats.TOKEN_TEXT[(offset + index * WORD_STRIDE) % len(formats.TOKEN_TEXT)]


@dataclass(frozen=True)
class Job:
    """What a response writer needs to know about its request."""

    chat: bool
    rid: str
    created: int
    model: str
    prompt_tokens: int
    max_tokens: int
    offset: int
    reasoning_tokens: int  # chat only: the first R tokens are reasoning_content
    fault: Fault | None

    def finish_reason(self, output_tokens: int) -> str:
        """``length`` when max_tokens was reached, else ``stop`` (a natural EOS)."""
        return "length" if output_tokens >= self.max_tokens else "stop"


class _Sink:
    """Shared bookkeeping: client disconnect aborts the sequence and counts it."""

    def __init__(
        self,
        conn: http.HttpConnection,
        job: Job,
        engine: BatchingEngine | FixedEngine,
        stats: SimStats,
    ) -> None:
        self.conn = conn
        self.job = job
        self.engine = engine
        self.stats = stats
        self.seq: Sequence | None = None

    def attach(self, seq: Sequence) -> None:
        """Bind to ``seq`` and watch for the client going away."""
        self.seq = seq
        self.conn.on_lost = self.lost

    def lost(self) -> None:
        """The client disconnected before the end: free the batch slot."""
        if self.seq is not None and not self.seq.done:
            self.engine.abort(self.seq)
            self.stats.requests_aborted += 1

    def _finished(self, seq: Sequence) -> None:
        seq.done = True
        self.stats.requests_finished += 1


class StreamSink(_Sink):
    """Writes one streaming response (headers and role chunk first, then token events)."""

    def __init__(
        self,
        conn: http.HttpConnection,
        job: Job,
        engine: BatchingEngine | FixedEngine,
        stats: SimStats,
        *,
        include_usage: bool,
        continuous_usage: bool,
        tokens_per_chunk: int,
    ) -> None:
        super().__init__(conn, job, engine, stats)
        self.fmt = formats.ChunkFormat(
            chat=job.chat,
            rid=job.rid,
            created=job.created,
            model=job.model,
            prompt_tokens=job.prompt_tokens,
            continuous_usage=continuous_usage,
        )
        self.include_usage = include_usage
        self.k = tokens_per_chunk
        self.pending: list[bytes] = []
        self.reasoning = job.reasoning_tokens if job.chat else 0
        fault = job.fault
        self.cut_at = fault.position if fault and fault.kind == "stream_truncated" else 0
        self.malformed_at = fault.position if fault and fault.kind == "malformed_event" else 0
        self.stall_at = fault.position if fault and fault.kind == "stall" else 0

    def start(self) -> None:
        """Response headers, then (chat) the role-only chunk, before any queueing or prefill."""
        head = http.STREAM_HEADERS
        if self.job.chat:
            head += http.chunk(self.fmt.role_event())
        self.conn.write(head)

    def token(self, seq: Sequence) -> None:
        n = seq.generated
        self.pending.append(token_text(self.job.offset, n - 1))
        last = n == seq.output_tokens
        if n == 1 or last or len(self.pending) >= self.k or n == self.reasoning:
            self._flush(n)
        if n == self.stall_at:  # the engine pauses before the next token
            self.stats.faults["stall"] += 1
        if n == self.cut_at:
            self._flush(n)
            seq.done = True
            self.stats.faults["stream_truncated"] += 1
            self.stats.requests_faulted += 1
            self.conn.on_lost = None
            self.conn.close()
        elif last:
            out = http.chunk(self.fmt.finish_event(self.job.finish_reason(n), n))
            if self.include_usage:
                out += http.chunk(self.fmt.usage_event(n))
            self.conn.write(out + http.chunk(formats.DONE_EVENT) + http.LAST_CHUNK)
            self._finished(seq)
            self.conn.response_done()

    def _flush(self, n: int) -> None:
        if not self.pending:
            return
        text = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
        self.pending.clear()
        out = http.chunk(self.fmt.token_event(text, n <= self.reasoning, n))
        if self.malformed_at and n >= self.malformed_at:
            self.malformed_at = 0
            self.stats.faults["malformed_event"] += 1
            out += http.chunk(formats.MALFORMED_EVENT)
        self.conn.write(out)


class FullSink(_Sink):
    """Writes the complete non-streaming response when the last token is generated."""

    def token(self, seq: Sequence) -> None:
        n = seq.generated
        if n < seq.output_tokens:
            return
        job = self.job
        words = [token_text(job.offset, i).decode() for i in range(n)]
        split = min(job.reasoning_tokens, n) if job.chat else 0
        body = formats.full_response(
            chat=job.chat,
            rid=job.rid,
            created=job.created,
            model=job.model,
            prompt_tokens=job.prompt_tokens,
            content="".join(words[split:]),
            reasoning="".join(words[:split]) if split else None,
            completion_tokens=n,
            finish_reason=job.finish_reason(n),
        )
        self._finished(seq)
        self.conn.respond(http.response(200, body))
