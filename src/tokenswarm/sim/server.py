"""Routes of the simulated OpenAI-compatible server and the asyncio main loop.

Generation requests are validated, counted, given an output length and at most one fault (in
that RNG order, so a seed reproduces a run), then handed to the engine with a response writer.
Natural output length (no ``ignore_eos``): ``round(Exp(mean=eos_mean_tokens))`` clamped to
``[max(1, min_tokens), max_tokens]``.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import orjson

from tokenswarm import __version__
from tokenswarm.errors import UserError
from tokenswarm.sim import formats, http
from tokenswarm.sim.clock import Timers
from tokenswarm.sim.config import SimConfig
from tokenswarm.sim.engine import BatchingEngine, FixedEngine, Sequence
from tokenswarm.sim.faults import HTTP_FAULTS, MID_STREAM, pick_fault
from tokenswarm.sim.metrics import SimStats, prometheus_text
from tokenswarm.sim.params import BadRequest, GenerationParams, parse_generation, prompt_text
from tokenswarm.sim.stream import FullSink, Job, StreamSink
from tokenswarm.tokenizer import Tokenizer, load_tokenizer


def _json(status: int, obj: Any) -> bytes:
    return http.response(status, orjson.dumps(obj))


def _error(status: int, message: str, kind: str) -> bytes:
    return http.response(status, formats.error_body(status, message, kind))


class SimServer:
    """Request router; one per process, bound to the running event loop."""

    def __init__(self, cfg: SimConfig, tokenizer: Tokenizer) -> None:
        self.cfg = cfg
        self.tokenizer = tokenizer
        self.stats = SimStats()
        self.timers = Timers()
        engine = FixedEngine if cfg.fixed_schedule else BatchingEngine
        self.engine: FixedEngine | BatchingEngine = engine(cfg, self.timers)
        self.rng = random.Random(cfg.seed)
        self.created = int(time.time())
        self._ids = itertools.count(1)
        self._loop = asyncio.get_running_loop()
        self._routes: dict[tuple[str, str], Callable[[http.HttpConnection, http.Request], None]] = {
            ("GET", "/health"): lambda c, r: c.respond(http.response(200)),
            ("GET", "/version"): lambda c, r: c.respond(
                _json(200, {"version": f"tokenswarm-sim {__version__}"})
            ),
            ("GET", "/v1/models"): self._models,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/sim/stats"): lambda c, r: c.respond(_json(200, self._snapshot())),
            ("POST", "/v1/chat/completions"): lambda c, r: self._generate(c, r, chat=True),
            ("POST", "/v1/completions"): lambda c, r: self._generate(c, r, chat=False),
            ("POST", "/tokenize"): self._tokenize,
            ("POST", "/detokenize"): self._detokenize,
        }
        self._paths = {path for _, path in self._routes}

    def handle(self, conn: http.HttpConnection, req: http.Request) -> None:
        route = self._routes.get((req.method, req.path))
        if route is not None:
            route(conn, req)
        elif req.path in self._paths:
            conn.respond(_error(405, "Method Not Allowed", "MethodNotAllowed"))
        else:
            conn.respond(_error(404, f"Not Found: {req.path}", "NotFoundError"))

    def _snapshot(self) -> dict[str, Any]:
        snapshot = self.stats.snapshot(self.engine, self.cfg.kv_cache_tokens, self.timers.time())
        # every token timer's |dispatch - deadline| (ms, cumulative histogram): when the
        # simulator itself runs late, a client's measured timing error is partly the server's
        snapshot["timer_error"] = self.timers.error.to_wire()
        return snapshot

    def _models(self, conn: http.HttpConnection, req: http.Request) -> None:
        model = {
            "id": self.cfg.model,
            "object": "model",
            "created": self.created,
            "owned_by": "vllm",
            "root": self.cfg.model,
            "parent": None,
            "max_model_len": self.cfg.max_model_len,
        }
        conn.respond(_json(200, {"object": "list", "data": [model]}))

    def _metrics(self, conn: http.HttpConnection, req: http.Request) -> None:
        text = prometheus_text(self.stats, self._snapshot(), self.cfg.model)
        conn.respond(http.response(200, text, "text/plain; version=0.0.4; charset=utf-8"))

    def _body(self, req: http.Request) -> dict[str, Any]:
        try:
            body = orjson.loads(req.body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"Invalid JSON body: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.")
        model = body.get("model")
        if model is not None and model != self.cfg.model:
            raise BadRequest(f"The model `{model}` does not exist.", 404, "NotFoundError")
        return body

    def _tokenize(self, conn: http.HttpConnection, req: http.Request) -> None:
        try:
            tokens = self.tokenizer.encode(prompt_text(self._body(req)))
        except BadRequest as exc:
            conn.respond(_error(exc.status, str(exc), exc.kind))
            return
        conn.respond(
            _json(
                200,
                {
                    "count": len(tokens),
                    "max_model_len": self.cfg.max_model_len,
                    "tokens": tokens,
                    "token_strs": None,
                },
            )
        )

    def _detokenize(self, conn: http.HttpConnection, req: http.Request) -> None:
        try:
            ids = self._body(req).get("tokens")
            if not isinstance(ids, list) or not all(type(i) is int for i in ids):
                raise BadRequest("`tokens` must be a list of integers.")
        except BadRequest as exc:
            conn.respond(_error(exc.status, str(exc), exc.kind))
            return
        conn.respond(_json(200, {"prompt": self.tokenizer.decode(ids)}))

    def _generate(self, conn: http.HttpConnection, req: http.Request, *, chat: bool) -> None:
        cfg = self.cfg
        try:
            params = parse_generation(self._body(req), chat=chat, cfg=cfg, tokenizer=self.tokenizer)
        except BadRequest as exc:
            self.stats.requests_rejected += 1
            conn.respond(_error(exc.status, str(exc), exc.kind))
            return
        self.stats.requests_total += 1
        rng = self.rng
        output = params.max_tokens
        if not params.ignore_eos:
            natural = round(rng.expovariate(1.0 / cfg.eos_mean_tokens))
            output = min(params.max_tokens, max(1, params.min_tokens, natural))
        fault = pick_fault(cfg, rng, output)
        offset = rng.randrange(len(formats.TOKEN_TEXT))
        if fault is not None and fault.kind in HTTP_FAULTS:
            status, kind, message = HTTP_FAULTS[fault.kind]
            self.stats.faults[fault.kind] += 1
            self.stats.requests_faulted += 1
            headers = (("retry-after", str(cfg.retry_after_s)),) if status == 429 else ()
            conn.respond(
                http.response(
                    status, formats.error_body(status, message, kind), extra_headers=headers
                )
            )
            return
        if fault is not None and fault.kind in MID_STREAM and not params.stream:
            fault = None  # mid-stream faults need a stream
        job = Job(
            chat=chat,
            rid=f"{'chatcmpl' if chat else 'cmpl'}-{next(self._ids):032x}",
            created=int(time.time()),
            model=cfg.model,
            prompt_tokens=params.prompt_tokens,
            max_tokens=params.max_tokens,
            offset=offset,
            reasoning_tokens=cfg.reasoning_tokens,
            fault=fault,
        )
        if fault is not None and fault.kind == "slow_headers":
            self.stats.faults["slow_headers"] += 1
            handle = self._loop.call_later(
                cfg.slow_headers_s, self._start, conn, job, params, output
            )

            def lost_while_delayed() -> None:
                handle.cancel()
                self.stats.requests_aborted += 1

            conn.on_lost = lost_while_delayed
        else:
            self._start(conn, job, params, output)

    def _start(
        self, conn: http.HttpConnection, job: Job, params: GenerationParams, output: int
    ) -> None:
        if params.stream:
            sink: StreamSink | FullSink = StreamSink(
                conn,
                job,
                self.engine,
                self.stats,
                include_usage=params.include_usage,
                continuous_usage=params.continuous_usage,
                tokens_per_chunk=self.cfg.tokens_per_chunk,
            )
        else:
            sink = FullSink(conn, job, self.engine, self.stats)
        stall_at = sink.stall_at if isinstance(sink, StreamSink) else 0
        seq = Sequence(
            prompt_tokens=job.prompt_tokens,
            output_tokens=output,
            accepted_at=self.timers.time(),
            sink=sink,
            stall_at=stall_at,
            stall_s=self.cfg.stall_s,
        )
        sink.attach(seq)
        if isinstance(sink, StreamSink):
            sink.start()
        self.engine.submit(seq)


async def serve(cfg: SimConfig, preset: str, out: TextIO = sys.stdout) -> None:
    """Run the simulator until SIGTERM/SIGINT; prints the one ``listening`` line when ready."""
    tokenizer = load_tokenizer(cfg.tokenizer)
    loop = asyncio.get_running_loop()
    sim = SimServer(cfg, tokenizer)
    try:
        server = await loop.create_server(
            lambda: http.HttpConnection(sim.handle),
            cfg.host,
            cfg.port,
            backlog=4096,
            reuse_address=True,
        )
    except OSError as exc:
        raise UserError(f"cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}") from None
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
    host, port = server.sockets[0].getsockname()[:2]
    gc.freeze()  # startup objects never need collecting: shorter GC pauses while serving
    print(
        f"tokenswarm sim listening on http://{host}:{port} (preset {preset}, model {cfg.model})",
        file=out,
        flush=True,
    )
    try:
        await stop
    finally:
        server.close()
        sim.timers.close()
