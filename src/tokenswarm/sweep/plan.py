"""From a resolved sweep config to the ordered list of stages the load shape walks.

Stages run scenario by scenario, each over its concurrency levels in increasing order, so a
scenario's curve is measured from light to heavy load (each level warms up from the previous
one). A stage lasts ``ramp + warmup + duration``: ramp = added users / spawn rate (0 when
all start at once); with ``load.requests`` set, the steady part instead lasts until that many
requests of the stage completed, at most ``load.max_stage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tokenswarm.errors import UserError
from tokenswarm.scenarios import SCENARIOS, Scenario, get_scenario
from tokenswarm.slo import SloConfig

SCENARIO_KEYS = ("name", "concurrency", "input_tokens", "output_tokens", "description")


@dataclass(frozen=True)
class StageSpec:
    index: int
    scenario: str
    users: int
    input_tokens: int
    output_tokens: int

    @property
    def name(self) -> str:
        return f"{self.scenario}@{self.users}"


@dataclass(frozen=True)
class SweepPlan:
    stages: tuple[StageSpec, ...]
    duration_s: float
    requests: int
    max_stage_s: float
    warmup_s: float
    spawn_rate: float
    slo: SloConfig
    early_stop: bool
    endpoint: str
    config: dict[str, Any]

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> SweepPlan:
        """Build from a mapping returned by tokenswarm.sweep.config.resolve."""
        load = cfg["load"]
        specs: list[StageSpec] = []
        for entry in cfg["scenarios"]:
            scenario, levels = parse_scenario(entry)
            for users in levels:
                specs.append(StageSpec(len(specs), scenario.name, users, scenario.input_tokens,
                                       scenario.output_tokens))
        return cls(
            stages=tuple(specs),
            duration_s=load["duration"],
            requests=load["requests"],
            max_stage_s=load["max_stage"],
            warmup_s=load["warmup"],
            spawn_rate=load["spawn_rate"],
            slo=SloConfig.from_mapping(cfg["slo"]),
            early_stop=cfg["early_stop"],
            endpoint=cfg["target"]["endpoint"],
            config=dict(cfg),
        )

    def ramp_s(self, previous_users: int, users: int) -> float:
        """Seconds to start the added users (0: all at once)."""
        added = max(users - previous_users, 0)
        return added / self.spawn_rate if self.spawn_rate else 0.0

    def lead_in_s(self, previous_users: int, users: int) -> float:
        """Ramp from ``previous_users`` plus warm-up: when a stage starts measuring, counted
        from its start."""
        return self.ramp_s(previous_users, users) + self.warmup_s

    def stage_s(self, index: int) -> float:
        """Planned length of stage ``index`` (request-count stages: their cap)."""
        previous = self.stages[index - 1].users if index else 0
        steady = self.max_stage_s if self.requests else self.duration_s
        return self.lead_in_s(previous, self.stages[index].users) + steady

    def total_s(self) -> float:
        return sum(self.stage_s(i) for i in range(len(self.stages)))

    def config_snapshot(self) -> dict[str, Any]:
        """What summary.json's ``config`` records about the sweep."""
        hardware = self.config["hardware"]
        return {
            "kind": "sweep",
            "stages_planned": [s.name for s in self.stages],
            "duration_s": self.duration_s,
            "requests_per_stage": self.requests,
            "warmup": self.warmup_s,
            "spawn_rate": self.spawn_rate,
            "early_stop": self.early_stop,
            "accelerators": hardware["accelerators"],
            "price_per_hour": hardware["price_per_hour"] or None,
            "hardware_name": hardware["name"],
        }


def parse_scenario(entry: Any) -> tuple[Scenario, list[int]]:
    """``"short"``, ``"short:1,4,16"`` or a mapping -> (scenario, concurrency levels)."""
    if isinstance(entry, str):
        name, _, levels_text = entry.partition(":")
        scenario = get_scenario(name.strip())
        levels = parse_levels(levels_text, name) if levels_text else scenario.default_levels()
        return scenario, levels
    if not isinstance(entry, Mapping):
        raise UserError(f"scenarios: {entry!r} is neither a name nor a mapping")
    for key in entry:
        if key not in SCENARIO_KEYS:
            raise UserError(f"scenarios: unknown key {key!r} (known: {', '.join(SCENARIO_KEYS)})")
    name = str(entry.get("name") or "")
    if not name:
        raise UserError("scenarios: every scenario mapping needs a name")
    base = SCENARIOS.get(name)
    if base is None and ("input_tokens" not in entry or "output_tokens" not in entry):
        get_scenario(name)  # raises: unknown built-in, and no lengths to define a custom one
    scenario = Scenario(
        name=name,
        description=str(entry.get("description") or (base.description if base else "custom")),
        input_tokens=_positive(entry.get("input_tokens", base.input_tokens if base else 0),
                               f"scenarios.{name}.input_tokens"),
        output_tokens=_positive(entry.get("output_tokens", base.output_tokens if base else 0),
                                f"scenarios.{name}.output_tokens"),
        max_concurrency=base.max_concurrency if base else 1,
    )
    levels = entry.get("concurrency")
    if levels is None:
        if base is None:
            raise UserError(f"scenarios.{name}: a custom scenario needs concurrency levels")
        return scenario, scenario.default_levels()
    if isinstance(levels, str):
        return scenario, parse_levels(levels, name)
    if not isinstance(levels, list) or not levels:
        raise UserError(f"scenarios.{name}.concurrency: expected a list such as [1, 4, 16]")
    return scenario, _sorted_levels([_positive(v, f"scenarios.{name}.concurrency")
                                     for v in levels])


def parse_levels(text: str, name: str) -> list[int]:
    """``"1,4,16"`` -> [1, 4, 16]."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"scenario {name}: concurrency {text!r} is not a list of whole "
                        "numbers such as 1,4,16") from None
    if not values or min(values) < 1:
        raise UserError(f"scenario {name}: concurrency levels must be >= 1")
    return _sorted_levels(values)


def _sorted_levels(values: list[int]) -> list[int]:
    return sorted(set(values))


def _positive(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{where}: expected a whole number >= 1, got {value!r}")
    return value
