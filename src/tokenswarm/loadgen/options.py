"""tokenswarm's Locust options: registered on Locust's parser, validated into LoadOptions.

Every option is also settable in a Locust config file (``input-tokens = 256``) and by
environment variable (``TOKENSWARM_INPUT_TOKENS=256``); precedence is Locust's own
(config files < env < command line). Locust copies them to workers at spawn time.
"""

from __future__ import annotations

import argparse
import math
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from tokenswarm.errors import UserError
from tokenswarm.profiles import PROFILE_CHOICES
from tokenswarm.scenarios import SCENARIOS, get_scenario


def register_arguments(parser: Any) -> None:
    """Add the options to Locust's (configargparse-based) parser, env ``TOKENSWARM_<NAME>``.

    They go on the parser itself, not a group: only Locust's parser knows ``is_secret`` and
    ``include_in_web_ui``.
    """

    def arg(flag: str, **kwargs: Any) -> None:
        env = "TOKENSWARM_" + flag.lstrip("-").replace("-", "_").upper()
        parser.add_argument(flag, env_var=env, **kwargs)

    arg("--model", default="", help="model id to request (default: the first of /v1/models)")
    arg("--engine", default="auto", choices=PROFILE_CHOICES,
        help="engine profile: request extras such as ignore_eos/min_tokens (default: auto, "
        "from /v1/models owned_by)")
    arg("--scenario", default="", choices=("", *SCENARIOS),
        help="built-in scenario: sets --input-tokens/--output-tokens (short 64/64, medium "
        "256/256, long 1024/512, stress 128/128)")
    arg("--input-tokens", type=int, default=128, help="prompt length in tokens (synthetic)")
    arg("--output-tokens", type=int, default=128, help="output tokens to request per request")
    arg("--dataset", default="synthetic",
        help="synthetic, a .jsonl file ({prompt|messages[, output_tokens]}) or a ShareGPT .json")
    arg("--tokenizer", default="",
        help="tokenizer.json or model directory for token-exact prompts (default: the "
        "server's /tokenize, else a word approximation)")
    arg("--connect-timeout", type=float, default=10.0, help="TCP connect timeout, s")
    arg("--first-token-timeout", type=float, default=300.0,
        help="max wait for the first token (queueing + prefill), s")
    arg("--idle-timeout", type=float, default=60.0, help="max gap between chunks, s")
    arg("--warmup", type=float, default=0.0,
        help="seconds after test start whose requests are excluded from the metrics")
    arg("--run-id", default="", help="run id (default: env TOKENSWARM_RUN_ID or a timestamp)")
    arg("--results-dir", default="results", help="results/<run_id>/ is written here")
    arg("--api-key", default="", is_secret=True, help="sent as 'Authorization: Bearer KEY'")
    arg("--seed", type=int, default=0, help="seed for prompt synthesis and sampling")


@dataclass(frozen=True)
class LoadOptions:
    """Validated options (see :func:`register_arguments` for meanings)."""

    model: str
    engine: str
    scenario: str
    input_tokens: int
    output_tokens: int
    dataset: str
    tokenizer: str
    connect_timeout: float
    first_token_timeout: float
    idle_timeout: float
    warmup: float
    run_id: str
    results_dir: str
    api_key: str
    seed: int

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> LoadOptions:
        values = {name: getattr(ns, name) for name in cls.__dataclass_fields__
                  if name != "scenario"}
        values["scenario"] = getattr(ns, "scenario", "") or ""
        if values["scenario"]:
            scenario = get_scenario(values["scenario"])
            values["input_tokens"] = scenario.input_tokens
            values["output_tokens"] = scenario.output_tokens
        opts = cls(**values)
        opts.validate()
        return opts

    def validate(self) -> None:
        for name in ("input_tokens", "output_tokens"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1")
        for name in ("connect_timeout", "first_token_timeout", "idle_timeout"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise UserError(f"--{name.replace('_', '-')} must be > 0 seconds")
        if not math.isfinite(self.warmup) or self.warmup < 0:
            raise UserError("--warmup must be >= 0 seconds")

    def snapshot(self) -> dict[str, Any]:
        """The options for summary.json (the API key redacted)."""
        data = asdict(self)
        data["api_key"] = "***" if self.api_key else ""
        return data


def check_inputs(opts: LoadOptions) -> None:
    """Load the tokenizer and the dataset once: a bad file is a UserError before any load."""
    from tokenswarm.datasets import check_dataset
    from tokenswarm.tokenizer import load_tokenizer

    if opts.tokenizer:
        load_tokenizer(opts.tokenizer)
    check_dataset(opts.dataset)


def default_run_id() -> str:
    """``TOKENSWARM_RUN_ID`` or ``YYYYmmdd-HHMMSS-<host>``: sortable and unique per host."""
    env = os.environ.get("TOKENSWARM_RUN_ID", "")
    if env:
        return env
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{socket.gethostname().split('.')[0]}"
