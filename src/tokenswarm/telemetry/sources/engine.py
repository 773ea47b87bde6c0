"""The inference engine's own view: scrape vLLM's or SGLang's Prometheus ``/metrics``.

Queue length and KV-cache use explain latency that GPU utilisation cannot (a full KV cache
queues requests while the GPU looks busy either way). :func:`parse_metrics` is pure so it is
tested against real exposition text. Fractions 0..1 become percentages.

One server can expose a metric under several label sets. How they are combined:

* label sets that differ only in a rank label of one engine (:data:`RANK_LABELS`: SGLang's
  ``tp_rank``, pipeline/expert ranks) are copies of one scheduler's state, repeated by each
  rank: the largest copy is taken (they agree in practice), never their sum, which would count
  each request once per GPU of a tensor-parallel engine;
* the remaining label sets are distinct engines (vLLM's ``engine`` label per data-parallel
  engine, SGLang ``dp_rank``, several ``model_name`` s): counts and counters
  (running/waiting requests, token totals) are summed across them;
* percentages (KV-cache usage) are never summed: the **maximum** across engines is reported,
  because the fullest KV cache is the one that queues requests (an average would hide one
  saturated data-parallel engine behind idle ones).
"""

from __future__ import annotations

import math
import re
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from tokenswarm.errors import UserError
from tokenswarm.telemetry.sample import EngineSample
from tokenswarm.telemetry.source import PollResult

# field -> metric names in order of preference (newer vLLM renamed gpu_cache_usage_perc).
_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "vllm": {
        "requests_running": ("vllm:num_requests_running",),
        "requests_waiting": ("vllm:num_requests_waiting",),
        "kv_cache_usage_pct": ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
        "prompt_tokens_total": ("vllm:prompt_tokens_total",),
        "generation_tokens_total": ("vllm:generation_tokens_total",),
    },
    "sglang": {
        "requests_running": ("sglang:num_running_reqs",),
        "requests_waiting": ("sglang:num_queue_reqs",),
        "kv_cache_usage_pct": ("sglang:token_usage",),
        "prompt_tokens_total": ("sglang:prompt_tokens_total",),
        "generation_tokens_total": ("sglang:generation_tokens_total",),
    },
}
_PERCENT = {"kv_cache_usage_pct"}
# Labels that tell apart the ranks (GPUs) of one engine, not different engines.
RANK_LABELS = frozenset({"tp_rank", "pp_rank", "attn_tp_rank", "ep_rank", "moe_ep_rank",
                         "attn_dp_rank_in_tp"})
_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*(\S+)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')

Series = dict[str, list[tuple[dict[str, str], float]]]


def parse_series(text: str) -> Series:
    """Metric name -> [(labels, value)]; comments and unreadable lines are skipped."""
    series: Series = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            continue
        name, labels, value_text = match.groups()
        try:
            value = float(value_text)
        except ValueError:
            continue
        if math.isfinite(value):
            series.setdefault(name, []).append((dict(_LABEL.findall(labels or "")), value))
    return series


def combine(samples: list[tuple[dict[str, str], float]], percent: bool) -> float:
    """One value from a metric's label sets (see the module doc): max over the rank copies of
    one engine, then sum over engines (max for a percentage)."""
    engines: dict[frozenset[tuple[str, str]], float] = {}
    for labels, value in samples:
        key = frozenset((k, v) for k, v in labels.items() if k not in RANK_LABELS)
        engines[key] = max(value, engines.get(key, value))
    values = list(engines.values())
    return max(values) if percent else sum(values)


def parse_metrics(text: str) -> EngineSample | None:
    """Prometheus text of vLLM or SGLang -> one :class:`EngineSample` (None: neither)."""
    series = parse_series(text)
    for engine, table in _NAMES.items():
        fields: dict[str, float | int] = {}
        for name, candidates in table.items():
            found = next((c for c in candidates if c in series), None)
            if found is None:
                continue
            value = combine(series[found], name in _PERCENT)
            fields[name] = round(value * 100.0, 4) if name in _PERCENT else round(value)
        if fields:
            return EngineSample(engine, fields)
    return None


def metrics_url(url: str) -> str:
    """``http://h:8000`` -> ``http://h:8000/metrics``; a URL with a path is kept as given."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"invalid engine URL {url!r} (expected e.g. http://127.0.0.1:8000)")
    return url.strip() if parts.path.strip("/") else url.strip().rstrip("/") + "/metrics"


class EngineSource:
    name = "engine"

    def __init__(self, url: str, timeout_s: float) -> None:
        self.url = metrics_url(url)
        self.timeout_s = timeout_s

    def describe(self) -> str:
        return f"engine {self.url}"

    def poll(self) -> PollResult:
        start = time.monotonic()
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout_s) as resp:
                text = resp.read().decode(errors="replace")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)  # URLError wraps connect timeouts
            timed_out = isinstance(reason, TimeoutError)
            return PollResult(ok=False, timed_out=timed_out,
                              error=f"engine {self.url}: {'timed out' if timed_out else reason}",
                              duration_s=time.monotonic() - start)
        sample = parse_metrics(text)
        if sample is None:
            return PollResult(ok=False, error=f"engine {self.url}: no vLLM or SGLang metrics",
                              duration_s=time.monotonic() - start)
        return PollResult(samples=[sample], duration_s=time.monotonic() - start)
