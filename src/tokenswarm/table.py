"""A readable terminal table of a run's summary.json."""

from __future__ import annotations

from typing import Any

_ROWS = (
    ("TTFT", "ttft_ms"),
    ("ITL", "itl_ms"),
    ("TPOT", "tpot_ms"),
    ("E2E", "e2e_ms"),
    ("chunk gap", "chunk_gap_ms"),
)
_COLS = ("count", "mean", "p50", "p90", "p95", "p99", "p99.9", "max")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.2f}" if value < 1000 else f"{value:.0f}"


def format_summary(summary: dict[str, Any], run_dir: str | None = None) -> str:
    """Latency percentiles (ms), throughput, request counts and errors, one block each."""
    req = summary["requests"]
    thr = summary["throughput"]
    tok = summary["tokens"]
    window = summary["window"]
    lines = [
        f"tokenswarm results: run {summary['run_id']}  (window {window['seconds']:.1f} s, "
        f"warm-up {window['warmup_s']:.1f} s excluded)",
        f"{'metric (ms)':<12}" + "".join(f"{c:>10}" for c in _COLS),
    ]
    for label, key in _ROWS:
        stats = summary["metrics"][key]
        lines.append(f"{label:<12}" + "".join(f"{_fmt(stats[c]):>10}" for c in _COLS))
    lines.append(
        f"throughput: output {thr['output_tps']:.1f} tok/s, total {thr['total_tps']:.1f} tok/s, "
        f"{thr['rps']:.2f} req/s"
    )
    lines.append(
        f"requests: sent {req['sent']}, ok {req['ok']}, failed {req['failed']}, "
        f"interrupted at stop {req['interrupted']}, warm-up excluded {req['warmup_excluded']}"
        + (f", across a stage change {req['transition']}" if req.get("transition") else "")
    )
    if summary["errors"]:
        lines.append("errors: " + ", ".join(f"{k} {v}" for k, v in summary["errors"].items()))
    if tok["short_outputs"]:
        lines.append(
            f"warning: {tok['short_outputs']} responses were shorter than the requested output "
            "tokens (the server stopped early: use an engine profile that forces length)"
        )
    mismatch = tok["prompt_tokens_mismatch"]
    if mismatch["requests"]:
        lines.append(
            f"note: usage.prompt_tokens differed from the intended input length in "
            f"{mismatch['requests']} requests (mean |diff| {mismatch['mean_abs_diff']:.1f} tokens;"
            " chat templates add tokens)"
        )
    if run_dir:
        lines.append(f"results: {run_dir}")
    return "\n".join(lines)


_STAGE_HEADER = (
    f"{'stage':<16}{'users':>6}{'ok':>7}{'fail':>6}{'out tok/s':>11}{'req/s':>8}"
    f"{'TTFT p50':>10}{'TTFT p99':>10}{'ITL p50':>9}{'ITL p99':>9}  SLO"
)


def format_stages(summary: dict[str, Any], run_dir: str | None = None) -> str:
    """One line per stage of a sweep (latencies in ms) and where the results are."""
    lines = [f"tokenswarm sweep {summary['run_id']}: {len(summary['stages'])} stages",
             _STAGE_HEADER]
    for stage in summary["stages"]:
        ttft, itl = stage["metrics"]["ttft_ms"], stage["metrics"]["itl_ms"]
        verdict = stage.get("slo")
        slo = "-" if verdict is None else ("pass" if verdict["pass"] else "FAIL")
        if not stage.get("complete", True):
            slo += " (incomplete)"
        if (stage.get("health") or {}).get("saturated"):
            slo += " (client saturated)"
        if stage.get("workers_lost"):
            slo += f" (lost {len(stage['workers_lost'])} worker(s))"
        req, thr = stage["requests"], stage["throughput"]
        lines.append(
            f"{stage['name']:<16}{stage['users']:>6}{req['ok']:>7}{req['failed']:>6}"
            f"{thr['output_tps']:>11.1f}{thr['rps']:>8.2f}{_fmt(ttft['p50']):>10}"
            f"{_fmt(ttft['p99']):>10}{_fmt(itl['p50']):>9}{_fmt(itl['p99']):>9}  {slo}"
        )
    if summary.get("stages_skipped"):
        lines.append("skipped after an SLO break: " + ", ".join(summary["stages_skipped"]))
    if run_dir:
        lines.append(f"results: {run_dir}")
    return "\n".join(lines)
