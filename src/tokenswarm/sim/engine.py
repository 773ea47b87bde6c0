"""Token schedulers: continuous batching (default) and a load-independent fixed schedule.

Both call ``seq.sink.token(seq)`` once per generated token (after ``seq.generated`` was
incremented); the sink writes it and sets ``seq.done`` when the sequence ends (finished or cut).
Both sleep to absolute deadlines, so timing never drifts by accumulated wake-up lateness.

Timers come from :class:`tokenswarm.sim.clock.Timers` (timerfd: microsecond precision, where
asyncio's own timers fire up to a millisecond late).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

from tokenswarm.sim.clock import Timer, Timers
from tokenswarm.sim.config import SimConfig

# A batching step that starts late (CPU contention) catches up at most this much.
MAX_CATCHUP_S = 0.005


class BusyClock:
    """Cumulative seconds during which at least one sequence was running.

    The simulated GPU (``tokenswarm.sim.fakesmi --engine-url``) turns the growth of this counter
    between two polls into a utilisation, the way a real GPU reports the busy share of its last
    sampling period.
    """

    __slots__ = ("_since", "_total")

    def __init__(self) -> None:
        self._total = 0.0
        self._since: float | None = None

    def set(self, busy: bool, now: float) -> None:
        """Record whether the engine is busy from ``now`` on."""
        if busy and self._since is None:
            self._since = now
        elif not busy and self._since is not None:
            self._total += now - self._since
            self._since = None

    def seconds(self, now: float) -> float:
        """Busy seconds up to ``now``."""
        return self._total + (now - self._since if self._since is not None else 0.0)


class Sink(Protocol):
    """Receives the tokens of one sequence."""

    def token(self, seq: Sequence) -> None:
        """``seq.generated`` tokens now exist; write the new one (set ``seq.done`` at the end)."""
        ...


class Sequence:
    """One request inside the engine."""

    __slots__ = (
        "accepted_at",
        "done",
        "generated",
        "output_tokens",
        "prompt_tokens",
        "running",
        "sink",
        "stall_at",
        "stall_s",
        "stall_until",
        "timer",
    )

    def __init__(
        self,
        *,
        prompt_tokens: int,
        output_tokens: int,
        accepted_at: float,
        sink: Sink,
        stall_at: int = 0,
        stall_s: float = 0.0,
    ) -> None:
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens
        self.accepted_at = accepted_at
        self.sink = sink
        # stall_at > 0: no token for stall_s seconds before token #stall_at (0-based)
        self.stall_at = stall_at
        self.stall_s = stall_s
        self.stall_until = 0.0
        self.generated = 0
        self.done = False
        self.running = False
        self.timer: Timer | None = None


class BatchingEngine:
    """vLLM-like continuous batching with one engine loop.

    Each step admits waiting sequences FIFO (at most ``max_num_seqs`` running; with
    ``kv_cache_tokens`` > 0 only while prompt + output tokens of all admitted sequences fit), then
    lasts ``step_s = base_ms + per_seq_ms * batch + sum(new prompt tokens) / prefill_tps``; at its
    end every running sequence gets one token (newly prefilled ones their first). So ITL grows
    with batch size, throughput saturates at ``max_num_seqs``, and TTFT includes queueing.
    """

    def __init__(self, cfg: SimConfig, timers: Timers) -> None:
        self._timers = timers
        self._cfg = cfg
        self._base_s = cfg.base_ms / 1000.0
        self._per_seq_s = cfg.per_seq_ms / 1000.0
        self.running: list[Sequence] = []
        self.waiting: deque[Sequence] = deque()
        self.n_waiting = 0
        self.kv_reserved = 0
        self.prompt_tokens_total = 0
        self.generation_tokens_total = 0
        self._deadline = 0.0
        self._timer: Timer | None = None
        self.busy = BusyClock()

    @property
    def n_running(self) -> int:
        return len(self.running)

    def kv_used(self) -> int:
        """Tokens held in the (simulated) KV cache: prompt + generated of running sequences."""
        return sum(s.prompt_tokens + s.generated for s in self.running if not s.done)

    def submit(self, seq: Sequence) -> None:
        self.waiting.append(seq)
        self.n_waiting += 1
        if self._timer is None:
            self._deadline = self._timers.time()
            self._start_step()

    def abort(self, seq: Sequence) -> None:
        """Drop ``seq`` (client gone): a waiting one now, a running one at the step's end."""
        if seq.done:
            return
        seq.done = True
        if not seq.running:
            self.n_waiting -= 1

    def _start_step(self) -> None:
        cfg = self._cfg
        prefill = 0
        while self.waiting and len(self.running) < cfg.max_num_seqs:
            seq = self.waiting[0]
            if seq.done:
                self.waiting.popleft()
                continue
            need = seq.prompt_tokens + seq.output_tokens
            if (
                cfg.kv_cache_tokens
                and self.running
                and (self.kv_reserved + need > cfg.kv_cache_tokens)
            ):
                break
            self.waiting.popleft()
            self.n_waiting -= 1
            seq.running = True
            self.kv_reserved += need
            prefill += seq.prompt_tokens
            self.running.append(seq)
        self.busy.set(bool(self.running), self._timers.time())
        if not self.running:
            self._timer = None
            return
        self.prompt_tokens_total += prefill
        step = self._base_s + self._per_seq_s * len(self.running) + prefill / cfg.prefill_tps
        self._deadline = max(self._deadline, self._timers.time() - MAX_CATCHUP_S) + step
        self._timer = self._timers.call_at(self._deadline, self._end_step)

    def _end_step(self) -> None:
        end = self._deadline
        kept: list[Sequence] = []
        emitted = 0
        for seq in self.running:
            if not seq.done:
                if seq.generated == seq.stall_at and seq.stall_at:
                    if not seq.stall_until:
                        seq.stall_until = end + seq.stall_s
                    if end < seq.stall_until:
                        kept.append(seq)
                        continue
                seq.generated += 1
                emitted += 1
                seq.sink.token(seq)
            if seq.done:
                self.kv_reserved -= seq.prompt_tokens + seq.output_tokens
            else:
                kept.append(seq)
        self.running = kept
        self.generation_tokens_total += emitted
        self._start_step()


class FixedEngine:
    """Load-independent schedule: token i at ``t_accept + ttft_ms + i * itl_ms`` (+ ``stall_s``
    from the stall point on), each on its own absolute-deadline timer. No queueing, no batch
    limit: for checking a client's timing accuracy against a known truth.

    ``burst``: the first token is due at ``ceil((t_accept + ttft_ms) / itl_ms) * itl_ms`` on the
    monotonic clock (a global grid), so every token of every stream falls on a grid point and all
    running streams get theirs in one burst, as a batching engine's decode step delivers them.
    ITL stays exactly ``itl_ms``; a token's lateness is ``(t_arrival mod itl_ms)``.
    """

    def __init__(self, cfg: SimConfig, timers: Timers) -> None:
        self._timers = timers
        self._ttft_s = (cfg.ttft_ms or 0.0) / 1000.0
        self._itl_s = (cfg.itl_ms or 0.0) / 1000.0
        self._burst = cfg.burst
        self.n_running = 0
        self.n_waiting = 0
        self.prompt_tokens_total = 0
        self.generation_tokens_total = 0
        self.busy = BusyClock()

    def kv_used(self) -> int:
        """No KV model in fixed mode."""
        return 0

    def deadline(self, seq: Sequence, index: int) -> float:
        """Loop time at which token ``index`` (0-based) of ``seq`` is due."""
        stall = seq.stall_s if seq.stall_at and index >= seq.stall_at else 0.0
        first = seq.accepted_at + self._ttft_s
        if self._burst:
            first = math.ceil(first / self._itl_s) * self._itl_s
        return first + index * self._itl_s + stall

    def submit(self, seq: Sequence) -> None:
        self.n_running += 1
        self.busy.set(True, self._timers.time())
        self.prompt_tokens_total += seq.prompt_tokens
        seq.running = True
        self._arm(seq)

    def abort(self, seq: Sequence) -> None:
        if seq.done:
            return
        seq.done = True
        self.n_running -= 1
        self.busy.set(self.n_running > 0, self._timers.time())
        if seq.timer is not None:
            seq.timer.cancel()
            seq.timer = None

    def _arm(self, seq: Sequence) -> None:
        seq.timer = self._timers.call_at(self.deadline(seq, seq.generated), self._fire, seq)

    def _fire(self, seq: Sequence) -> None:
        seq.timer = None
        seq.generated += 1
        self.generation_tokens_total += 1
        seq.sink.token(seq)
        if seq.done:
            self.n_running -= 1
            self.busy.set(self.n_running > 0, self._timers.time())
        else:
            self._arm(seq)
