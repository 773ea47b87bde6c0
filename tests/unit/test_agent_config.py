"""Agent settings: the shipped agent.yaml is the defaults; precedence file < env < flags."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from helpers import REPO

from tokenswarm.errors import UserError
from tokenswarm.telemetry import config
from tokenswarm.telemetry.config import AgentConfig

AGENT_YAML = REPO / "telemetry" / "agent.yaml"


def test_shipped_agent_yaml_lists_every_key_at_its_default():
    data = config.load_yaml(AGENT_YAML)
    defaults = dataclasses.asdict(AgentConfig())
    assert set(data) == set(defaults)
    loaded = dataclasses.asdict(config.apply(AgentConfig(), data, "agent.yaml"))
    assert loaded == defaults


def test_precedence_file_then_env_then_flags(tmp_path: Path):
    path = tmp_path / "a.yaml"
    path.write_text("interval_s: 2\nrun_id: from-file\ninflux: {url: 'http://f:8086', "
                    "database: filedb}\nsources: rocm-smi, host\n")
    env = {"TOKENSWARM_INFLUX_DATABASE": "envdb", "TOKENSWARM_RUN_ID": "from-env"}
    cfg = config.build(str(path), {"interval_s": 0.5, "influx": {"url": "http://x:8086"}}, env)
    assert cfg.interval_s == 0.5
    assert cfg.run_id == "from-env"
    assert cfg.sources == ["rocm-smi", "host"]
    influx = cfg.influx_config()
    assert influx is not None
    assert (influx.url, influx.database) == ("http://x:8086", "envdb")
    assert config.build(None, {"run_id": "flag"}, env).run_id == "flag"


def test_defaults_fill_run_id_and_host_and_leave_influx_off():
    cfg = config.build(None, {}, {})
    assert cfg.run_id.startswith("agent-")
    assert cfg.host
    assert cfg.influx_config() is None
    assert cfg.telemetry_path() == Path("results") / cfg.run_id / "telemetry.jsonl"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("intervall_s: 1\n", "unknown key 'intervall_s'"),
        ("interval_s: fast\n", "interval_s must be a float"),
        ("interval_s: 0\n", "interval_s must be > 0"),
        ("influx: {uri: x}\n", "unknown influx key(s) uri"),
        ("[1, 2]\n", "must be a mapping"),
        ("a: [\n", "is not valid YAML"),
    ],
)
def test_bad_config_is_one_line_user_error(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        config.build(str(path), {}, {})
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_tool_paths_flags():
    assert config.parse_tool_paths(["rocm-smi=/opt/rocm/bin/rocm-smi"]) == {
        "rocm-smi": "/opt/rocm/bin/rocm-smi"
    }
    with pytest.raises(UserError, match="NAME=PATH"):
        config.parse_tool_paths(["rocm-smi"])
