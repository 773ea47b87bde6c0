"""Simulator configuration: presets, precedence, validation, CLI flags."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from tokenswarm.errors import UserError
from tokenswarm.sim import cli
from tokenswarm.sim.config import PRESETS, SimConfig, build_config, read_yaml


def test_presets_and_precedence(tmp_path):
    assert set(PRESETS) >= {"default", "k100-ai-7b", "fixed"}
    fixed = build_config("fixed")
    assert fixed.fixed_schedule and (fixed.ttft_ms, fixed.itl_ms) == (80.0, 20.0)
    assert not build_config("default").fixed_schedule
    path = tmp_path / "sim.yaml"
    path.write_text("itl-ms: 5\nfault_429: 0.25\nmodel: m1\n")
    cfg = build_config("fixed", read_yaml(str(path)), {"model": "m2"})
    assert (cfg.itl_ms, cfg.fault_429, cfg.model, cfg.ttft_ms) == (5.0, 0.25, "m2", 80.0)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"fault_500": -0.1}, "fault_500"),
        ({"fault_cut": 1.5}, "fault_cut"),
        ({"fault_429": 0.6, "fault_503": 0.6}, "add up to 1.2"),
        ({"base_ms": -1}, "base_ms"),
        ({"max_num_seqs": 0}, "max_num_seqs"),
        ({"prefill_tps": 0}, "prefill_tps"),
        ({"ttft_ms": 10}, "ttft_ms and itl_ms"),
        ({"tokens_per_chunk": 0}, "tokens_per_chunk"),
        ({"port": 70000}, "port"),
        ({"max_num_seqs": "many"}, "max_num_seqs"),
        ({"max_num_seqs": 2.5}, "max_num_seqs"),
        ({"bogus_key": 1}, "bogus_key"),
    ],
)
def test_invalid_values_raise_user_error_naming_the_key(overrides, needle):
    with pytest.raises(UserError, match=needle):
        build_config("default", None, overrides)


def test_unknown_preset_and_file_errors(tmp_path):
    with pytest.raises(UserError, match="unknown sim preset 'nope'"):
        build_config("nope")
    with pytest.raises(UserError, match="not found"):
        read_yaml(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(UserError, match="mapping"):
        read_yaml(str(bad))
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("max_num_seq: 3\n")
    with pytest.raises(UserError, match="max_num_seq"):
        build_config("default", read_yaml(str(unknown)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tokenswarm")
    cli.register(parser.add_subparsers())
    return parser


def test_every_config_key_is_a_documented_flag():
    parser = _parser()
    sim_parser = parser._subparsers._group_actions[0].choices["sim"]  # type: ignore[union-attr]
    help_text = sim_parser.format_help()
    for field in dataclasses.fields(SimConfig):
        flag = "--" + field.name.replace("_", "-")
        assert flag in help_text, flag
    for flag in ("--preset", "--config", "--list-presets"):
        assert flag in help_text
    args = parser.parse_args(["sim", "--preset", "fixed", "--itl-ms", "7", "--fault-429", "0.5"])
    cfg = cli.config_from_args(args)
    assert (cfg.ttft_ms, cfg.itl_ms, cfg.fault_429) == (80.0, 7.0, 0.5)


def test_list_presets(capsys):
    args = _parser().parse_args(["sim", "--list-presets"])
    assert cli.run(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(PRESETS)
    assert all(len(line.split()) > 3 for line in out)


def test_sim_never_imports_locust_or_gevent_and_process_is_stdlib_only():
    import subprocess
    import sys

    code = (
        "import sys, tokenswarm.sim.process\n"
        "assert not {'orjson', 'yaml', 'gevent', 'locust'} & set(sys.modules), 'process'\n"
        "import tokenswarm.sim.__main__, tokenswarm.sim.server\n"
        "assert not {'gevent', 'locust'} & set(sys.modules), 'server'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
