"""``tokenswarm agent`` (poll and write), ``tokenswarm agent parse`` and ``tokenswarm doctor``.

Flags override ``--config`` (agent.yaml) and ``TOKENSWARM_INFLUX_*``/``TOKENSWARM_RUN_ID``;
every flag defaults to None so "not given" never overrides the file. Imports nothing from
the load side (no locust, no gevent).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from tokenswarm.errors import UserError
from tokenswarm.telemetry import config as agent_config

log = logging.getLogger("tokenswarm.agent")


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """Flags shared by ``agent`` and ``doctor`` (sources, tools, engine, InfluxDB)."""
    parser.add_argument("--config", help="agent YAML file (see telemetry/agent.yaml)")
    parser.add_argument("--sources", help="comma list: auto (default), hy-smi, rocm-smi, "
                        "amd-smi, nvidia-smi, host, engine")
    parser.add_argument("--tool-path", action="append", default=[], metavar="NAME=PATH",
                        help="where a GPU tool lives, e.g. rocm-smi=/opt/rocm/bin/rocm-smi")
    parser.add_argument("--tool-timeout-s", type=float, help="hard timeout per tool call "
                        "(default 5)")
    parser.add_argument("--engine-url", help="vLLM/SGLang server whose /metrics to scrape")
    parser.add_argument("--influx-url", help="InfluxDB URL, e.g. http://127.0.0.1:8086")
    parser.add_argument("--influx-database", help="v1 database (default tokenswarm)")
    parser.add_argument("--influx-bucket", help="v2 bucket")
    parser.add_argument("--influx-org", help="v2 organisation")
    parser.add_argument("--influx-token", help="v2/v3 API token")


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The config keys the user set on the command line."""
    influx = {key: getattr(args, f"influx_{key}", None)
              for key in ("url", "database", "bucket", "org", "token")}
    values: dict[str, Any] = {
        "sources": args.sources,
        "tool_timeout_s": args.tool_timeout_s,
        "engine_url": args.engine_url,
        "influx": {k: v for k, v in influx.items() if v is not None} or None,
        "tool_paths": agent_config.parse_tool_paths(args.tool_path) or None,
    }
    for key in ("run_id", "host", "interval_s", "duration_s", "results_dir"):
        values[key] = getattr(args, key, None)
    if getattr(args, "no_file", False):
        values["file_sink"] = False
    return values


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = subparsers.add_parser(
        "agent", allow_abbrev=False,
        help="poll GPU tools, the host and the engine; write to InfluxDB and a file",
        description="GPU host telemetry agent: polls hy-smi/rocm-smi/amd-smi/nvidia-smi, host "
        "CPU/memory and the engine's /metrics every interval; writes InfluxDB and "
        "results/<run_id>/telemetry.jsonl. Stops on SIGTERM/SIGINT with a final flush.")
    add_common_flags(agent)
    agent.add_argument("--run-id", help="run id tag (default: $TOKENSWARM_RUN_ID, else a "
                       "timestamp)")
    agent.add_argument("--host", help="host tag (default: this machine's host name)")
    agent.add_argument("--interval-s", type=float, help="poll interval in seconds (default 1)")
    agent.add_argument("--duration-s", type=float, help="stop after this many seconds "
                       "(default 0: run until stopped)")
    agent.add_argument("--results-dir", help="folder of results/<run_id>/ (default results)")
    agent.add_argument("--no-file", action="store_true", help="no telemetry.jsonl file sink")
    agent.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    agent.set_defaults(func=run_agent)
    sub = agent.add_subparsers(dest="agent_command", metavar="parse")
    parse = sub.add_parser("parse", help="print the normalised samples of a captured output",
                           description="Parse a captured GPU tool output (what the agent "
                           "would read) and print one JSON line per device.")
    parse.add_argument("--tool", required=True, help="hy-smi, rocm-smi, amd-smi or nvidia-smi")
    parse.add_argument("--format", choices=("auto", "json", "text"), default="auto",
                       help="force the JSON or the text parser (default: sniff)")
    parse.add_argument("--static", metavar="FILE", help="amd-smi: a captured `amd-smi static "
                       "--json` to join in (serial, PCI bus, model, power limit)")
    parse.add_argument("file", help="captured output ('-' reads stdin)")
    parse.set_defaults(func=run_parse)

    doctor = subparsers.add_parser(
        "doctor", help="check GPU tools, InfluxDB and the target server",
        description="Find the GPU tools and devices, print versions and one sample per GPU, "
        "check InfluxDB and the target endpoint; exit 0 when all asked-for checks pass.")
    add_common_flags(doctor)
    doctor.add_argument("--host", dest="target", help="OpenAI-compatible server to check")
    doctor.add_argument("--api-key", default="", help="API key for --host")
    doctor.set_defaults(func=run_doctor)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")


def run_agent(args: argparse.Namespace) -> int:
    from tokenswarm.telemetry.agent import Agent
    from tokenswarm.telemetry.detect import build_sources
    from tokenswarm.telemetry.sinks import FileSink, InfluxSink, Sink

    _setup_logging(args.verbose)
    cfg = agent_config.build(args.config, flag_values(args))
    sources = build_sources(cfg)
    sinks: list[Sink] = []
    influx = cfg.influx_config()
    if influx is not None:
        influx_sink = InfluxSink(influx)
        influx_sink.start()
        sinks.append(influx_sink)
    if cfg.file_sink:
        sinks.append(FileSink(cfg.telemetry_path()))
    if not sinks:
        raise UserError("no sink: set --influx-url (agent.yaml: influx.url) or keep the file "
                        "sink (drop --no-file)")
    for source in sources:
        detect = getattr(source, "detect_version", None)
        if detect is not None:
            detect()
    log.info("agent run_id=%s host=%s interval=%gs sources: %s; sinks: %s", cfg.run_id,
             cfg.host, cfg.interval_s, "; ".join(s.describe() for s in sources),
             "; ".join(s.describe() for s in sinks))
    agent = Agent(sources, sinks, cfg.run_id, cfg.host, cfg.interval_s)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: agent.stop())
    # Poll threads may be inside a tool call (killed at tool_timeout_s); the final InfluxDB
    # flush is bounded by influx.timeout_s (telemetry/tokenswarm-agent.service relies on both).
    flush_s = influx.timeout_s if influx is not None else 5.0
    stats = agent.run(cfg.duration_s, join_timeout_s=cfg.tool_timeout_s + 5.0,
                      flush_timeout_s=flush_s)
    print(stats.summary(cfg.run_id), flush=True)
    return 0


def run_parse(args: argparse.Namespace) -> int:
    from tokenswarm.telemetry.detect import tools
    from tokenswarm.telemetry.sources.base import ParseError

    specs = tools()
    spec = specs.get(args.tool)
    if spec is None:
        raise UserError(f"unknown tool {args.tool!r} (known: {', '.join(specs)})")
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(
            errors="replace")
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    parser = {"auto": spec.parse, "json": spec.parse_json, "text": spec.parse_text}[args.format]
    try:
        result = parser(text)
    except ParseError as exc:
        raise UserError(f"{args.file} is not {args.tool} output the parser knows: {exc}"
                        ) from None
    if args.static:
        if spec.merge_static is None:
            raise UserError(f"--static is for amd-smi; {args.tool} has no static capture")
        try:
            static = Path(args.static).read_text(errors="replace")
        except OSError as exc:
            raise UserError(f"cannot read {args.static}: {exc.strerror or exc}") from None
        result.warnings += spec.merge_static(result.samples, static)
    for sample in result.samples:
        print(json.dumps(dataclasses.asdict(sample)))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.version:
        print(f"version: {result.version}", file=sys.stderr)
    if not result.samples:
        print(f"no device found in {args.file} (is it {args.tool} output?)", file=sys.stderr)
        return 1
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    from tokenswarm.telemetry.doctor import Doctor

    cfg = agent_config.build(args.config, flag_values(args))
    return Doctor(cfg, args.target, args.api_key).run()
