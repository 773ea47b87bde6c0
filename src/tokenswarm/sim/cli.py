"""``tokenswarm sim``: run the simulated OpenAI-compatible inference engine.

Plain asyncio process: this module and everything it imports must never import locust or gevent.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tokenswarm.sim.config import PRESETS, SimConfig, build_config, read_yaml

# (key, type, help). Every SimConfig field is a flag; the default shown is the built-in one.
_FLAGS: tuple[tuple[str, type, str], ...] = (
    ("host", str, "address to bind (default 127.0.0.1)"),
    ("port", int, "TCP port; 0 picks a free one (default 8000)"),
    ("model", str, "model id served and required in requests (default tokenswarm-sim)"),
    (
        "seed",
        int,
        "RNG seed: output lengths, faults and token text repeat for the same "
        "request order (default 0)",
    ),
    (
        "tokenizer",
        str,
        "tokenizer.json or model directory used to count prompt tokens and for "
        "/tokenize (default: built-in word tokenizer)",
    ),
    ("max-model-len", int, "context length: prompt + max_tokens above it is a 400 (default 32768)"),
    ("default-max-tokens", int, "max_tokens when a request gives none (default 256)"),
    (
        "eos-mean-tokens",
        float,
        "mean natural output length without ignore_eos, exponentially "
        "distributed, clamped to [min_tokens, max_tokens] (default 128)",
    ),
    (
        "max-num-seqs",
        int,
        "batching: most sequences running at once; the rest wait FIFO (default 256)",
    ),
    ("base-ms", float, "batching: fixed time of one engine step in ms (default 6)"),
    (
        "per-seq-ms",
        float,
        "batching: extra step time per running sequence in ms; step = base + "
        "per_seq * batch + new prompt tokens / prefill_tps (default 0.06)",
    ),
    ("prefill-tps", float, "batching: prefill speed in prompt tokens/s (default 20000)"),
    (
        "kv-cache-tokens",
        int,
        "batching: KV cache size in tokens, prompt + output of running "
        "sequences must fit; 0 = unlimited (default 0)",
    ),
    (
        "ttft-ms",
        float,
        "fixed schedule (with --itl-ms): first token this many ms after accept, whatever the load",
    ),
    ("itl-ms", float, "fixed schedule (with --ttft-ms): ms between tokens"),
    (
        "burst",
        bool,
        "fixed schedule: every token on a global grid of --itl-ms, so all running streams get "
        "their token at the same instant, as a batching engine's decode step delivers them "
        "(TTFT rounds up to the next grid point)",
    ),
    ("tokens-per-chunk", int, "tokens per SSE event after the first (default 1)"),
    ("reasoning-tokens", int, "chat: the first N tokens are sent as reasoning_content (default 0)"),
    ("fault-429", float, "rate 0..1 of requests answered 429 with Retry-After"),
    ("fault-500", float, "rate 0..1 of requests answered 500"),
    ("fault-503", float, "rate 0..1 of requests answered 503"),
    ("fault-cut", float, "rate 0..1 of streams cut mid-way (connection closed, no end chunk)"),
    ("fault-malformed", float, "rate 0..1 of streams with one invalid-JSON event mid-stream"),
    ("fault-stall", float, "rate 0..1 of streams that pause --stall-s seconds mid-stream"),
    (
        "fault-slow-headers",
        float,
        "rate 0..1 of responses whose headers come --slow-headers-s late",
    ),
    ("stall-s", float, "length of a stall fault in seconds (default 3)"),
    ("slow-headers-s", float, "delay of a slow-headers fault in seconds (default 3)"),
    ("retry-after-s", int, "Retry-After value of 429 faults in seconds (default 1)"),
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sim`` subcommand."""
    parser = subparsers.add_parser(
        "sim",
        help="run the simulated OpenAI-compatible inference engine (no GPU needed)",
        description="Simulated vLLM-like OpenAI server: continuous batching or a fixed "
        "TTFT/ITL schedule, exact usage counts, /metrics, fault injection. Settings come from "
        "the preset, then --config, then flags. Prints one 'listening' line when ready; "
        "SIGTERM/SIGINT stop it.",
    )
    parser.add_argument(
        "--preset",
        default="default",
        help=f"named settings: {', '.join(PRESETS)} (default: default)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE.yaml",
        help="YAML mapping of the keys below (underscores or dashes)",
    )
    parser.add_argument(
        "--list-presets", action="store_true", help="print the presets with a description and exit"
    )
    for name, kind, text in _FLAGS:
        if kind is bool:
            parser.add_argument(
                f"--{name}", action=argparse.BooleanOptionalAction, default=None, help=text
            )
        else:
            parser.add_argument(f"--{name}", type=kind, default=None, help=text)
    parser.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The validated configuration from ``--preset``, ``--config`` and explicit flags."""
    overrides: dict[str, Any] = {}
    for name, _, _ in _FLAGS:
        key = name.replace("-", "_")
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    file_values = read_yaml(args.config) if args.config else None
    return build_config(args.preset, file_values, overrides)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``tokenswarm sim``."""
    if args.list_presets:
        width = max(len(name) for name in PRESETS)
        for preset in PRESETS.values():
            print(f"{preset.name:<{width}}  {preset.description}")
        return 0
    cfg = config_from_args(args)
    from tokenswarm.sim.server import serve

    asyncio.run(serve(cfg, args.preset))
    return 0
