"""The inference engine's own view: scrape vLLM's or SGLang's Prometheus ``/metrics``.

Queue length and KV-cache use explain latency that GPU utilisation cannot (a full KV cache
queues requests while the GPU looks busy either way). :func:`parse_metrics` is pure so it is
tested against real exposition text; values are summed over label sets (one engine can expose
several models or data-parallel ranks). Fractions 0..1 become percentages.
"""

from __future__ import annotations

import math
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


def _sum_by_name(text: str) -> dict[str, float]:
    """Metric name -> sum over its label sets; comments and unreadable lines are skipped."""
    sums: dict[str, float] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, _, rest = line.partition("{")
            rest = rest.rsplit("}", 1)[-1]
        else:
            name, _, rest = line.partition(" ")
        parts = rest.split()
        if not parts:
            continue
        try:
            value = float(parts[0])
        except ValueError:
            continue
        if math.isfinite(value):
            sums[name.strip()] = sums.get(name.strip(), 0.0) + value
    return sums


def parse_metrics(text: str) -> EngineSample | None:
    """Prometheus text of vLLM or SGLang -> one :class:`EngineSample` (None: neither)."""
    sums = _sum_by_name(text)
    for engine, table in _NAMES.items():
        fields: dict[str, float | int] = {}
        for name, candidates in table.items():
            found = next((sums[c] for c in candidates if c in sums), None)
            if found is None:
                continue
            fields[name] = round(found * 100.0, 4) if name in _PERCENT else round(found)
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
