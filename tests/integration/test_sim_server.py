"""The real simulator process over real sockets: formats, timing, batching, faults, endpoints."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import socket
import statistics
import subprocess
import sys
import urllib.error
import urllib.request

import orjson
import pytest

from tokenswarm.sim.process import SimProcess, SimProcessError
from tokenswarm.sim.rawclient import StreamResult, stream

pytestmark = pytest.mark.integration
MODEL = "tokenswarm-sim"
CHAT = "/v1/chat/completions"


def _hostport(sim: SimProcess) -> tuple[str, int]:
    host, port = sim.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _chat(max_tokens: int = 5, content: str = "one two three", **extra: object) -> dict:
    body: dict = {
        "model": MODEL,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    body.update(extra)
    return body


def _run(
    sim: SimProcess, *bodies: dict, path: str = CHAT, send_after: float = 0.0, stagger: float = 0.0
) -> list[StreamResult]:
    """Send ``bodies`` concurrently; request i is sent ``send_after + i * stagger`` s after its
    connection opened."""
    host, port = _hostport(sim)

    async def all_() -> list[StreamResult]:
        return await asyncio.gather(
            *(
                stream(host, port, path, b, send_after=send_after + i * stagger)
                for i, b in enumerate(bodies)
            )
        )

    return asyncio.run(all_())


def _post(sim: SimProcess, path: str, body: object) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(
        sim.url + path, data=data, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _token_events(r: StreamResult) -> list[tuple[float, dict]]:
    out = []
    for t, raw in r.events:
        if raw == b"[DONE]" or not _is_json(raw):
            continue
        delta = orjson.loads(raw)["choices"]
        if delta and (
            delta[0].get("delta", {}).get("content")
            or delta[0].get("text")
            or delta[0].get("delta", {}).get("reasoning_content")
        ):
            out.append((t, orjson.loads(raw)))
    return out


@pytest.fixture(scope="module")
def sim():
    with SimProcess("--base-ms", "1", "--per-seq-ms", "0", "--reasoning-tokens", "0") as s:
        yield s


def test_streaming_chat_format(sim):
    (r,) = _run(sim, _chat(6, "alpha beta , gamma"))
    assert r.status == 200 and r.complete
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["transfer-encoding"] == "chunked"
    payloads = [raw for _, raw in r.events]
    assert payloads[-1] == b"[DONE]"
    chunks = [orjson.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    tokens = [c["choices"][0]["delta"]["content"] for c in chunks[1:7]]
    assert len(tokens) == 6 and all(t.startswith(" ") and len(t.split()) == 1 for t in tokens)
    assert chunks[7]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "length",
        "stop_reason": None,
    }
    assert chunks[8]["choices"] == [] and chunks[8]["usage"] == {
        "prompt_tokens": 4,
        "completion_tokens": 6,
        "total_tokens": 10,
    }
    assert len(chunks) == 9 and all(c["id"] == chunks[0]["id"] for c in chunks)


def test_completions_continuous_usage_and_non_streaming(sim):
    body = {
        "model": MODEL,
        "prompt": "a b c",
        "max_tokens": 3,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"continuous_usage_stats": True},
    }
    (r,) = _run(sim, body, path="/v1/completions")
    chunks = [orjson.loads(p) for _, p in r.events[:-1]]
    assert [c["object"] for c in chunks] == ["text_completion"] * 4  # no role chunk
    assert [c["usage"]["completion_tokens"] for c in chunks] == [1, 2, 3, 3]
    status, resp = _post(sim, CHAT, {**_chat(4), "stream": False})
    assert status == 200 and resp["object"] == "chat.completion"
    assert len(resp["choices"][0]["message"]["content"].split()) == 4
    assert resp["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_natural_eos_bounds(sim):
    bodies = [{**_chat(40), "ignore_eos": False, "min_tokens": 5} for _ in range(20)]
    lengths = []
    for r in _run(sim, *bodies):
        usage = orjson.loads(r.events[-2][1])["usage"]["completion_tokens"]
        finish = orjson.loads(r.events[-3][1])["choices"][0]["finish_reason"]
        assert 5 <= usage <= 40 and finish == ("length" if usage == 40 else "stop")
        lengths.append(usage)
    assert len(set(lengths)) > 1


def test_errors_and_endpoints(sim):
    status, body = _post(sim, CHAT, {**_chat(), "model": "gpt-x"})
    assert status == 404 and body == {
        "error": {
            "message": "The model `gpt-x` does not exist.",
            "type": "NotFoundError",
            "param": None,
            "code": 404,
        }
    }
    assert _post(sim, CHAT, b"{not json")[0] == 400
    status, body = _post(sim, CHAT, {"model": MODEL})
    assert status == 400 and body["error"]["code"] == 400 and "messages" in body["error"]["message"]
    assert _post(sim, "/nope", {})[0] == 404
    models = sim.get_json("/v1/models")
    assert models["data"][0]["id"] == MODEL and models["data"][0]["owned_by"] == "vllm"
    assert sim.get_json("/version")["version"].startswith("tokenswarm-sim ")
    with urllib.request.urlopen(sim.url + "/health") as resp:
        assert resp.status == 200 and resp.read() == b""
    status, tok = _post(sim, "/tokenize", {"model": MODEL, "prompt": "hola bebe , caca ."})
    assert status == 200 and tok["count"] == 5 and tok["max_model_len"] == 32768
    status, detok = _post(sim, "/detokenize", {"model": MODEL, "tokens": tok["tokens"][:1]})
    assert detok == {"prompt": "hola"}
    status, tok2 = _post(
        sim,
        "/tokenize",
        {
            "model": MODEL,
            "messages": [
                {"role": "user", "content": "hola bebe"},
                {"role": "user", "content": " caca"},
            ],
        },
    )
    assert tok2["count"] == 3


def test_metrics_and_stats_count_requests(sim):
    before = sim.stats()
    _run(sim, _chat(3), _chat(2))
    after = sim.stats()
    assert after["requests_total"] - before["requests_total"] == 2
    assert after["requests_finished"] - before["requests_finished"] == 2
    assert after["generation_tokens"] - before["generation_tokens"] == 5
    assert after["prompt_tokens"] - before["prompt_tokens"] == 6
    with urllib.request.urlopen(sim.url + "/metrics") as resp:
        text = resp.read().decode()
    label = f'{{model_name="{MODEL}"}}'
    for name in (
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:gpu_cache_usage_perc",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "tokenswarm_sim_requests_total",
    ):
        assert f"{name}{label} " in text
    assert f"vllm:generation_tokens_total{label} {after['generation_tokens']}" in text
    assert 'tokenswarm_sim_faults_total{kind="http_429"} 0' in text


def test_client_disconnect_aborts_and_frees_the_slot():
    with SimProcess("--max-num-seqs", "1", "--base-ms", "5", "--per-seq-ms", "0") as sim:
        host, port = _hostport(sim)
        with socket.create_connection((host, port)) as s:
            body = orjson.dumps(_chat(100000 // 4, "x"))
            s.sendall(
                b"POST %s HTTP/1.1\r\ncontent-length: %d\r\n\r\n%s"
                % (CHAT.encode(), len(body), body)
            )
            assert b"data: " in s.recv(4096)
        (r,) = _run(sim, _chat(3))  # would wait forever if the slot leaked
        assert r.complete
        stats = sim.stats()
        assert stats["requests_aborted"] == 1 and stats["running"] == 0
        assert stats["requests_finished"] == 1


def test_fixed_schedule_timing_at_64_streams():
    with SimProcess("--preset", "fixed") as sim:
        _run(sim, *[_chat(3) for _ in range(64)], send_after=0.05)  # warm-up: both sides cold
        # Connections open first (as kept-alive ones would be), then requests go out spread over
        # one ITL, as in an open-loop test: no 64-event bursts for the Python client to drain.
        results = _run(sim, *[_chat(12) for _ in range(64)], send_after=0.2, stagger=0.02 / 64)
    ttft, gaps = [], []
    for r in results:
        times = [t for t, _ in _token_events(r)]
        assert len(times) == 12
        ttft.append((times[0] - r.t_send) * 1000)
        gaps += [(b - a) * 1000 for a, b in itertools.pairwise(times)]
    ttft.sort()
    gap_err = sorted(abs(g - 20) for g in gaps)
    why = f"ttft {ttft[0]:.2f}..{ttft[-1]:.2f} ms, gap error p90 {gap_err[int(0.9 * len(gaps))]}"
    assert statistics.median(ttft) == pytest.approx(80, abs=1.0), why
    assert ttft[int(0.9 * len(ttft))] == pytest.approx(80, abs=2.0), why
    assert statistics.median(gaps) == pytest.approx(20, abs=0.3), why
    assert gap_err[int(0.9 * len(gaps))] < 1.0, why


def test_tokens_per_chunk_groups_events():
    with SimProcess("--preset", "fixed", "--itl-ms", "10", "--tokens-per-chunk", "4") as sim:
        _run(sim, _chat(2))  # warm-up
        (r,) = _run(sim, _chat(10), send_after=0.05)
    events = _token_events(r)
    sizes = [len(e["choices"][0]["delta"]["content"].split()) for _, e in events]
    assert sizes == [1, 4, 4, 1]
    gaps = [(b - a) * 1000 for (a, _), (b, _) in itertools.pairwise(events)]
    assert gaps[0] == pytest.approx(40, abs=3) and gaps[1] == pytest.approx(40, abs=3)
    assert gaps[2] == pytest.approx(10, abs=3)


def test_batching_itl_grows_with_concurrency():
    with SimProcess("--base-ms", "2", "--per-seq-ms", "0.5", "--prefill-tps", "1e9") as sim:

        def median_gap(n: int) -> float:
            gaps = []
            for r in _run(sim, *[_chat(20) for _ in range(n)]):
                times = [t for t, _ in _token_events(r)]
                gaps += [(b - a) * 1000 for a, b in itertools.pairwise(times)]
            return statistics.median(gaps)

        one, many = median_gap(1), median_gap(32)
    assert one == pytest.approx(2.5, abs=0.5)  # 2 + 0.5 * 1
    assert many == pytest.approx(18, abs=2)  # 2 + 0.5 * 32


@pytest.mark.parametrize(
    ("flag", "kind"),
    [
        ("--fault-429", "http_429"),
        ("--fault-500", "http_500"),
        ("--fault-503", "http_503"),
        ("--fault-cut", "stream_truncated"),
        ("--fault-malformed", "malformed_event"),
        ("--fault-stall", "stall"),
        ("--fault-slow-headers", "slow_headers"),
    ],
)
def test_fault_kinds(flag, kind):
    with SimProcess(
        flag,
        "1",
        "--stall-s",
        "0.3",
        "--slow-headers-s",
        "0.3",
        "--base-ms",
        "2",
        "--per-seq-ms",
        "0",
    ) as sim:
        (r,) = _run(sim, _chat(8))
        stats = sim.stats()
    assert stats["faults"][kind] == 1 and sum(stats["faults"].values()) == 1
    if kind.startswith("http_"):
        assert r.status == int(kind[5:]) and orjson.loads(r.body)["error"]["code"] == r.status
        assert ("retry-after" in r.headers) == (kind == "http_429")
        return
    assert r.status == 200
    payloads = [p for _, p in r.events]
    if kind == "stream_truncated":
        assert not r.complete and b"[DONE]" not in payloads
        assert stats["requests_faulted"] == 1 and stats["requests_aborted"] == 0
        return
    assert r.complete and payloads[-1] == b"[DONE]"
    if kind == "malformed_event":
        bad = [p for p in payloads if p.startswith(b"{") and not _is_json(p)]
        assert bad == [b'{"id": broken']
    times = [t for t, _ in _token_events(r)]
    if kind == "stall":
        assert max(b - a for a, b in itertools.pairwise(times)) >= 0.3
    if kind == "slow_headers":
        assert r.events[0][0] - r.t_send >= 0.3


def _is_json(raw: bytes) -> bool:
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return True


def test_seed_makes_runs_deterministic():
    def texts(seed: str) -> list[str]:
        with SimProcess(
            "--seed", seed, "--base-ms", "1", "--per-seq-ms", "0", "--fault-cut", "0.3"
        ) as sim:
            out = []
            for _ in range(6):
                (r,) = _run(sim, {**_chat(30), "ignore_eos": False})
                out.append(
                    "".join(e["choices"][0]["delta"]["content"] for _, e in _token_events(r))
                    + f"|{r.complete}"
                )
        return out

    assert texts("7") == texts("7") != texts("8")


def test_sigterm_exits_cleanly_and_bad_input_is_one_line():
    sim = SimProcess().start()
    sim.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    assert sim.proc.wait(10) == 0  # type: ignore[union-attr]
    with pytest.raises(SimProcessError, match="fault_429"):
        SimProcess("--fault-429", "2").start()
    proc = subprocess.run(
        [sys.executable, "-m", "tokenswarm.sim", "--preset", "zzz"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "tokenswarm: error: unknown sim preset 'zzz' (choose from default, k100-ai-7b, fixed, "
        "fixed-burst)"
    ]


def test_top_level_cli_runs_the_sim_subcommand():
    proc = subprocess.run(
        [sys.executable, "-m", "tokenswarm", "sim", "--list-presets"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.split()[0] == "default"
    bad = subprocess.run(
        [sys.executable, "-m", "tokenswarm", "sim", "--fault-429", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "fault_429" in bad.stderr
