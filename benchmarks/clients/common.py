"""What every benchmark client shares: the request, the record file and the stop signal.

A client runs ``--streams`` closed-loop streams (each sends its next request as soon as the
previous one ended), starts them evenly over ``--ramp`` seconds (streams started together would
stay in lockstep), and on SIGTERM/SIGINT writes every finished request to ``--out`` and exits.

Record file: a flat ``array('q')`` of int64, per request ``[n, t_send, t_0 ... t_(n-1)]``:
``t_send`` just before the request was written and ``t_i`` the arrival of token event i, all
``time.perf_counter_ns()`` (CLOCK_MONOTONIC on Linux: the simulator's clock, so burst-grid
lateness can be computed).
"""

from __future__ import annotations

import argparse
from array import array
from typing import Any

from tokenswarm.tokenizer import WORD_VOCAB

PATH = "/v1/chat/completions"
MODEL = "tokenswarm-sim"


def body(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    """The request tokenswarm's vLLM profile sends (continuous usage in every chunk)."""
    prompt = " ".join(WORD_VOCAB[(i * 7) % len(WORD_VOCAB)] for i in range(input_tokens))
    return {
        "model": MODEL,
        "max_tokens": output_tokens,
        "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        "ignore_eos": True,
        "min_tokens": output_tokens,
        "messages": [{"role": "user", "content": prompt}],
    }


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--streams", type=int, required=True)
    parser.add_argument("--ramp", type=float, default=2.0, help="start streams over this, s")
    parser.add_argument("--input-tokens", type=int, default=32)
    parser.add_argument("--output-tokens", type=int, default=128)
    parser.add_argument("--out", required=True, help="record file written at the stop")
    return parser.parse_args()


class Records:
    """Finished requests in one flat int64 array (one C-level extend per request)."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = array("q")

    def add(self, t_send: int, stamps: array) -> None:
        self.data.append(len(stamps))
        self.data.append(t_send)
        self.data.extend(stamps)

    def write(self, path: str) -> None:
        with open(path, "wb") as f:
            self.data.tofile(f)


def read_records(path: str) -> list[tuple[int, array]]:
    """``[(t_send, stamps)]`` from a record file."""
    data = array("q")
    with open(path, "rb") as f:
        data.frombytes(f.read())
    out, i = [], 0
    while i < len(data):
        n = data[i]
        out.append((data[i + 1], data[i + 2 : i + 2 + n]))
        i += 2 + n
    return out
