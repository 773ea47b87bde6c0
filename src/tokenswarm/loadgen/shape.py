"""The sweep as a Locust load shape: one stage per scenario and concurrency level.

The shape runs on the master (or the single local process). Each tick (Locust calls it about
once a second) it decides whether the current stage is over (its duration, or its request
count, or its cap) and, if so, starts the next one: the stage is broadcast to the workers
(``tokenswarm.loadgen.listeners.start_stage``) *before* the user count changes, so every
worker attributes requests and shapes prompts for the new stage. When a stage has fewer users
than the one before (a new scenario), the removed users are stopped at once (their requests
count as interrupted) instead of streaming into the new stage's window. With ``early_stop``, a stage
that breaks the SLOs (judged on what the workers reported so far) ends its scenario: the
scenario's higher levels are skipped, the next scenario starts.

Options (registered here, so only the sweep locustfile has them): ``--sweep-config FILE``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from locust import LoadTestShape, events
from locust.runners import MasterRunner, WorkerRunner

from tokenswarm.errors import UserError
from tokenswarm.loadgen.listeners import fatal, start_stage
from tokenswarm.loadgen.runtime import RUNTIME
from tokenswarm.loadgen.users import OpenAIChatUser, OpenAICompletionsUser
from tokenswarm.results import stage_block_so_far
from tokenswarm.stages import StageInfo
from tokenswarm.sweep.config import load_config_file, resolve
from tokenswarm.sweep.plan import SweepPlan

log = logging.getLogger("tokenswarm")


class SweepShape(LoadTestShape):
    """Walks ``plan.stages``; ``plan`` is loaded from ``--sweep-config`` at init."""

    plan: SweepPlan | None = None

    def __init__(self) -> None:
        super().__init__()
        self._index: int | None = None
        self._stage_started = 0.0
        self._completed: set[int] = set()
        self._skipped: list[str] = []
        self._stop_timeout = 0.0
        self._rate = 1.0
        self._lead_in_s = 0.0

    def load(self, path: str, stop_timeout: float) -> None:
        self._stop_timeout = stop_timeout
        self.plan = SweepPlan.from_config(resolve(load_config_file(path), path))
        RUNTIME.stage_count = len(self.plan.stages)
        RUNTIME.summary_hooks.append(self._mark_stages)

    def tick(self) -> tuple[int, float, list[type]] | None:
        plan = self.plan
        if plan is None:
            return None
        if self._index is None:
            return self._start(0)
        if not self._stage_over(plan, self._index):
            return self._tick_value(self._index)
        self._completed.add(self._index)
        following = self._next_index(plan, self._index)
        if following is None:
            self.runner.environment.stop_timeout = self._stop_timeout  # a graceful end
            return None
        return self._start(following)

    def time_left_s(self) -> float | None:
        if self.plan is None or self._index is None:
            return None
        remaining = sum(self.plan.stage_s(i) for i in range(self._index, len(self.plan.stages)))
        return max(remaining - (time.monotonic() - self._stage_started), 0.0)

    def _start(self, index: int) -> tuple[int, float, list[type]]:
        assert self.plan is not None
        spec = self.plan.stages[index]
        previous = self.plan.stages[self._index].users if self._index is not None else 0
        # from the users actually running (early stop may have skipped stages in between)
        self._lead_in_s = self.plan.lead_in_s(previous, spec.users)
        now = time.time_ns()
        self._index, self._stage_started = index, time.monotonic()
        info = StageInfo(
            index=index, name=spec.name, scenario=spec.scenario, users=spec.users,
            input_tokens=spec.input_tokens, output_tokens=spec.output_tokens,
            started_ns=now, measure_from_ns=now + int(self._lead_in_s * 1e9),
            duration_s=self.plan.duration_s, requests=self.plan.requests or None,
        )
        environment = self.runner.environment
        # a ramp-down stops the removed users at once: their requests, made under the previous
        # stage's load (or scenario), must not stream into this stage; ramp-ups stop nobody
        environment.stop_timeout = 0 if spec.users < previous else self._stop_timeout
        # Locust's spawn rate also paces ramp-downs: remove everyone in one step
        ramp_up_rate = self.plan.spawn_rate or float(spec.users)
        self._rate = ramp_up_rate if spec.users >= previous else float(previous - spec.users)
        start_stage(environment, info)
        log.info("tokenswarm: stage %d/%d %s: %d users, %d/%d tokens in/out", index + 1,
                 len(self.plan.stages), spec.name, spec.users, spec.input_tokens,
                 spec.output_tokens)
        return self._tick_value(index)

    def _tick_value(self, index: int) -> tuple[int, float, list[type]]:
        assert self.plan is not None
        user_class = OpenAIChatUser if self.plan.endpoint == "chat" else OpenAICompletionsUser
        return self.plan.stages[index].users, self._rate, [user_class]

    def _stage_over(self, plan: SweepPlan, index: int) -> bool:
        elapsed = time.monotonic() - self._stage_started
        lead_in = self._lead_in_s
        if not plan.requests:
            return elapsed >= lead_in + plan.duration_s
        counts = RUNTIME.aggregate.stage_stats(index).counts
        done = counts.get("ok", 0) + counts.get("failed", 0)
        return done >= plan.requests or elapsed >= lead_in + plan.max_stage_s

    def _next_index(self, plan: SweepPlan, index: int) -> int | None:
        """The next stage; with early stop, the next scenario's first stage after a break."""
        following = index + 1
        if plan.early_stop and not self._passes(plan, index):
            scenario = plan.stages[index].scenario
            while following < len(plan.stages) and plan.stages[following].scenario == scenario:
                self._skipped.append(plan.stages[following].name)
                following += 1
            log.warning("tokenswarm: stage %s broke the SLOs: skipping %s's higher levels",
                        plan.stages[index].name, scenario)
        return following if following < len(plan.stages) else None

    def _passes(self, plan: SweepPlan, index: int) -> bool:
        """The live verdict (what the workers reported so far); a stage with no finished
        request yet is undecided, so it does not stop the scenario."""
        block = stage_block_so_far(RUNTIME.aggregate, index)
        if block["requests"]["ok"] + block["requests"]["failed"] == 0:
            return True
        return bool(plan.slo.evaluate(block)["pass"])

    def _mark_stages(self, summary: dict[str, Any]) -> None:
        """Summary hook: which stages ran to their end, which were skipped by early stop."""
        for block in summary["stages"]:
            block["complete"] = block["index"] in self._completed
        summary["stages_skipped"] = list(self._skipped)


@events.init_command_line_parser.add_listener
def _add_sweep_options(parser: Any, **_: Any) -> None:
    parser.add_argument("--sweep-config", env_var="TOKENSWARM_SWEEP_CONFIG", default="",
                        include_in_web_ui=False,
                        help="sweep config (YAML, see configs/sim.yaml): the stages to walk")


@events.init.add_listener
def _load_plan(environment: Any, runner: Any = None, **_: Any) -> None:
    shape = environment.shape_class
    if not isinstance(shape, SweepShape) or isinstance(runner, WorkerRunner):
        return
    path = getattr(environment.parsed_options, "sweep_config", "")
    try:
        if not path:
            raise UserError("the sweep locustfile needs --sweep-config FILE (see configs/)")
        shape.load(path, float(environment.stop_timeout or 0))
    except UserError as exc:
        fatal(str(exc))
    if isinstance(runner, MasterRunner):
        log.info("tokenswarm: sweep of %d stages", len(shape.plan.stages) if shape.plan else 0)
