"""Fault injection: at most one fault per request, chosen by the seeded RNG.

One uniform draw ``u`` per request picks the fault: the rates are laid end to end on [0, 1) in
:data:`FAULT_KINDS` order, and ``u`` falling in a rate's interval selects that fault (so each
fault happens with exactly its configured probability and never two at once). Faults that only
make sense mid-stream (cut, malformed, stall) pick their token position with a second draw; they
are applied to streaming requests only. The kind names match the client's failure classes
(DESIGN.md section 3) so tests compare the client's failure counts with ``/sim/stats``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tokenswarm.sim.config import SimConfig

# (config key, kind name in /sim/stats and /metrics)
FAULT_KINDS: tuple[tuple[str, str], ...] = (
    ("fault_429", "http_429"),
    ("fault_500", "http_500"),
    ("fault_503", "http_503"),
    ("fault_cut", "stream_truncated"),
    ("fault_malformed", "malformed_event"),
    ("fault_stall", "stall"),
    ("fault_slow_headers", "slow_headers"),
)
KIND_NAMES: tuple[str, ...] = tuple(kind for _, kind in FAULT_KINDS)
HTTP_FAULTS: dict[str, tuple[int, str, str]] = {
    "http_429": (429, "RateLimitError", "Too many requests (simulated fault)."),
    "http_500": (500, "InternalServerError", "Internal server error (simulated fault)."),
    "http_503": (503, "ServiceUnavailableError", "Service unavailable (simulated fault)."),
}
MID_STREAM = frozenset({"stream_truncated", "malformed_event", "stall"})


@dataclass(frozen=True)
class Fault:
    """The fault of one request: ``kind`` and, for mid-stream kinds, the token ``position``.

    ``position`` p (1 <= p <= output tokens): cut closes the connection after p tokens (before
    the finish chunk when p is the last one); malformed writes the broken event right after the
    p-th token; stall pauses just before token p (0-based, so p <= output - 1 for a stall).
    """

    kind: str
    position: int = 0


def pick_fault(cfg: SimConfig, rng: random.Random, output_tokens: int) -> Fault | None:
    """The fault for a request that will generate ``output_tokens`` tokens, or None."""
    u = rng.random()
    edge = 0.0
    for key, kind in FAULT_KINDS:
        rate: float = getattr(cfg, key)
        edge += rate
        if rate and u < edge:
            if kind in MID_STREAM:
                if kind == "stall" and output_tokens < 2:
                    return None
                last = output_tokens - 1 if kind == "stall" else output_tokens
                return Fault(kind, rng.randint(1, max(1, last)))
            return Fault(kind)
    return None
