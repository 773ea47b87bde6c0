"""Built-in load scenarios: prompt and output lengths, and the concurrency range to sweep.

| scenario | input tokens | output tokens | concurrency |
|---|---|---|---|
| short (chat) | 64 | 64 | 1-32 |
| medium (generation) | 256 | 256 | 1-64 |
| long (documents) | 1024 | 512 | 1-16 |
| stress (limit) | 128 | 128 | 1-512 |

Levels default to powers of two from 1 up to the maximum (1, 2, 4, ... max), so each level
doubles the load: enough resolution to find a knee, few enough stages to stay short.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from tokenswarm.errors import UserError


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    input_tokens: int
    output_tokens: int
    max_concurrency: int

    def default_levels(self) -> list[int]:
        return doubling_levels(self.max_concurrency)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("short", "chat", 64, 64, 32),
        Scenario("medium", "generation", 256, 256, 64),
        Scenario("long", "documents", 1024, 512, 16),
        Scenario("stress", "limit", 128, 128, 512),
    )
}


def doubling_levels(maximum: int) -> list[int]:
    """1, 2, 4, ... up to ``maximum`` (included even when not a power of two)."""
    levels, level = [], 1
    while level < maximum:
        levels.append(level)
        level *= 2
    return [*levels, maximum]


def get_scenario(name: str) -> Scenario:
    """The built-in scenario ``name``; a UserError naming the known ones otherwise."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        close = difflib.get_close_matches(name, SCENARIOS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UserError(f"unknown scenario {name!r} ({hint}known: {', '.join(SCENARIOS)})")
    return scenario
