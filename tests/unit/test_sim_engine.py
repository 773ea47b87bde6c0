"""Engine scheduling math in simulated time (fake timers: deterministic and instant)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from tokenswarm.sim.config import build_config
from tokenswarm.sim.engine import BatchingEngine, FixedEngine, Sequence


class FakeTimer:
    cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeTimers:
    """Timers on a virtual clock: :meth:`run` executes callbacks in deadline order."""

    def __init__(self) -> None:
        self.now = 100.0
        self.heap: list[tuple[float, int, Any]] = []
        self.order = itertools.count()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[..., None], *args: Any) -> Any:
        timer = FakeTimer()
        heapq.heappush(self.heap, (when, next(self.order), (timer, callback, args)))
        return timer

    def run(self, until: float = float("inf")) -> None:
        while self.heap and self.heap[0][0] <= until:
            when, _, (timer, callback, args) = heapq.heappop(self.heap)
            self.now = max(self.now, when)
            if not timer.cancelled:
                callback(*args)


class Recorder:
    """A sink recording the virtual time of each token; optionally resubmits (closed loop)."""

    def __init__(self, timers: FakeTimers, on_done: Callable[[], None] | None = None) -> None:
        self.timers = timers
        self.times: list[float] = []
        self.on_done = on_done

    def token(self, seq: Sequence) -> None:
        self.times.append(self.timers.now)
        if seq.generated == seq.output_tokens:
            seq.done = True
            if self.on_done:
                self.on_done()


def _seq(timers: FakeTimers, prompt: int, output: int, **kw: Any) -> tuple[Sequence, Recorder]:
    rec = Recorder(timers)
    return Sequence(
        prompt_tokens=prompt, output_tokens=output, accepted_at=timers.now, sink=rec, **kw
    ), rec


def test_batching_step_formula_and_itl_growth():
    cfg = build_config("default", None, {"base_ms": 10, "per_seq_ms": 1, "prefill_tps": 1000})
    timers = FakeTimers()
    engine = BatchingEngine(cfg, timers)
    t0 = timers.now
    a, rec_a = _seq(timers, 100, 3)
    engine.submit(a)
    timers.run(t0 + 0.0001)
    b, rec_b = _seq(timers, 50, 2)
    engine.submit(b)  # waits for the next step
    assert engine.n_running == 1 and engine.n_waiting == 1
    timers.run()
    # step 1: 10 + 1*1 + 100/1000 s; step 2 admits b: 10 + 2*1 + 50 ms prefill; step 3: 10 + 2*1
    s1 = 0.011 + 0.1
    s2 = s1 + 0.012 + 0.05
    s3 = s2 + 0.012
    assert rec_a.times == pytest.approx([t0 + s1, t0 + s2, t0 + s3])
    assert rec_b.times == pytest.approx([t0 + s2, t0 + s3])
    assert engine.n_running == 0 and engine.kv_reserved == 0
    assert engine.prompt_tokens_total == 150 and engine.generation_tokens_total == 5


def test_max_num_seqs_queues_fifo_and_abort_frees_slot():
    cfg = build_config("default", None, {"max_num_seqs": 1, "base_ms": 1, "per_seq_ms": 0})
    timers = FakeTimers()
    engine = BatchingEngine(cfg, timers)
    seqs = [_seq(timers, 1, 2) for _ in range(3)]
    for seq, _ in seqs:
        engine.submit(seq)
    assert (engine.n_running, engine.n_waiting) == (1, 2)
    engine.abort(seqs[0][0])  # running: freed at the step's end
    engine.abort(seqs[1][0])  # waiting: gone now
    assert engine.n_waiting == 1
    timers.run()
    assert seqs[0][1].times == [] and seqs[1][1].times == []
    assert len(seqs[2][1].times) == 2 and engine.n_running == 0


def test_kv_budget_limits_admission():
    cfg = build_config("default", None, {"kv_cache_tokens": 150, "base_ms": 1, "per_seq_ms": 0})
    timers = FakeTimers()
    engine = BatchingEngine(cfg, timers)
    (a, _), (b, rec_b) = _seq(timers, 90, 10), _seq(timers, 40, 20)
    engine.submit(a)
    engine.submit(b)
    assert (engine.n_running, engine.n_waiting) == (1, 1)  # 100 + 60 > 150
    assert engine.kv_used() == 90
    timers.run()
    assert len(rec_b.times) == 20


def test_fixed_schedule_deadlines_and_stall():
    cfg = build_config("fixed")
    timers = FakeTimers()
    engine = FixedEngine(cfg, timers)
    seq, rec = _seq(timers, 5, 5, stall_at=2, stall_s=3.0)
    t0 = timers.now
    engine.submit(seq)
    timers.run()
    assert rec.times == pytest.approx([t0 + 0.08, t0 + 0.1, t0 + 3.12, t0 + 3.14, t0 + 3.16])
    assert engine.n_running == 0


def test_batching_stall_pauses_only_that_sequence():
    cfg = build_config("default", None, {"base_ms": 10, "per_seq_ms": 0, "prefill_tps": 1e9})
    timers = FakeTimers()
    engine = BatchingEngine(cfg, timers)
    seq, rec = _seq(timers, 1, 4, stall_at=2, stall_s=1.0)
    other, rec_other = _seq(timers, 1, 4)
    engine.submit(seq)
    engine.submit(other)
    timers.run()
    gaps = [b - a for a, b in itertools.pairwise(rec.times)]
    assert gaps[0] == pytest.approx(0.01) and gaps[1] >= 1.0 and gaps[2] == pytest.approx(0.01)
    assert rec_other.times[-1] - rec_other.times[0] == pytest.approx(0.03)


def test_k100_preset_delivers_1880_tokens_per_second_at_32_streams():
    """32 closed-loop streams, 256 in / 256 out, virtual time (no client latency)."""
    cfg = build_config("k100-ai-7b")
    timers = FakeTimers()
    engine = BatchingEngine(cfg, timers)
    tokens: list[float] = []

    def start(delay: float) -> None:
        def submit() -> None:
            rec = Recorder(timers, on_done=lambda: start(0.0))
            rec.times = tokens
            engine.submit(
                Sequence(prompt_tokens=256, output_tokens=256, accepted_at=timers.now, sink=rec)
            )

        timers.call_at(timers.now + delay, submit)

    for i in range(32):
        start(i * 4.4 / 32)
    t0 = timers.now
    timers.run(t0 + 70.0)
    in_window = [t for t in tokens if t0 + 10 <= t < t0 + 70]
    assert len(in_window) / 60.0 == pytest.approx(1880, rel=0.05)
