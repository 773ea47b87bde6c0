"""Pure CLI helpers: parse_duration, locust_command, LoadOptions validation, base URL."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

from tokenswarm.cli import build_parser
from tokenswarm.errors import UserError
from tokenswarm.loadgen.options import LoadOptions
from tokenswarm.preflight import normalize_base_url
from tokenswarm.run_cli import default_workers, effective_warmup, parse_duration


def _locust_parse_timespan():
    """Locust's own ``-t``/``--stop-timeout`` parser, loaded from its file without importing
    the locust package (whose __init__ monkey-patches gevent)."""
    spec = importlib.util.find_spec("locust")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "util" / "timespan.py"
    mod_spec = importlib.util.spec_from_file_location("_locust_timespan_for_tests", path)
    assert mod_spec is not None and mod_spec.loader is not None
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module.parse_timespan


parse_timespan = _locust_parse_timespan()


@pytest.fixture
def parse(monkeypatch):
    """``tokenswarm run ...`` parsed by the real CLI parser (no OPENAI_API_KEY leaking in)."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)

    def _parse(*argv: str):
        return build_parser().parse_args(["run", *argv])

    return _parse


def _locust_command(args, host="http://127.0.0.1:9", run_id="rid"):
    from tokenswarm.run_cli import locust_command

    return locust_command(args, host, run_id)


def _flag(cmd: list[str], flag: str) -> str:
    assert cmd.count(flag) == 1, (flag, cmd)
    return cmd[cmd.index(flag) + 1]


# --- parse_duration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1h30m15s", 5415.0),
        ("2m30s", 150.0),
        ("0.5", 0.5),
        ("1.5s", 1.5),
        ("  20s  ", 20.0),
        ("0s", 0.0),
    ],
)
def test_parse_duration_valid(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "   ", "s", "m", "h", "abc", "-5", "5x", "1.5m", "2 m", "1m1h", "2M", "1d",
             "5ms", "1e3"]
)
def test_parse_duration_invalid(text):
    with pytest.raises(UserError, match="invalid duration"):
        parse_duration(text)


# --- locust_command ---------------------------------------------------------------------------


def test_locust_command_defaults(parse):
    args = parse()
    cmd = _locust_command(args, host="http://10.0.0.1:8000", run_id="r-42")
    assert cmd[:3] == [sys.executable, "-m", "locust"]
    locustfile = Path(_flag(cmd, "-f"))
    assert locustfile.name == "locustfile.py" and locustfile.is_file()
    assert "--headless" in cmd and "--only-summary" in cmd
    assert _flag(cmd, "--host") == "http://10.0.0.1:8000"
    assert _flag(cmd, "-u") == "16"
    assert _flag(cmd, "-r") == "16"  # spawn rate 0 means all users at once
    assert _flag(cmd, "-t") == "20s"
    assert _flag(cmd, "--stop-timeout") == "30s"
    assert _flag(cmd, "--run-id") == "r-42"
    # one worker per core by default, on a master port of its own
    if default_workers():
        assert _flag(cmd, "--processes") == str(default_workers())
        assert _flag(cmd, "--master-bind-port") == _flag(cmd, "--master-port")
    assert "--processes" not in _locust_command(parse("--workers", "0"), "http://h:1", "r")
    assert cmd[-1] == "OpenAIChatUser"
    # passthrough options with their defaults; empty strings are left out
    assert _flag(cmd, "--engine") == "auto"
    assert _flag(cmd, "--input-tokens") == "128"
    assert _flag(cmd, "--output-tokens") == "128"
    assert _flag(cmd, "--dataset") == "synthetic"
    assert _flag(cmd, "--results-dir") == "results"
    assert _flag(cmd, "--seed") == "0"  # a zero is a value, not "unset"
    assert float(_flag(cmd, "--warmup")) == 5.0
    assert float(_flag(cmd, "--connect-timeout")) == 10.0
    assert float(_flag(cmd, "--first-token-timeout")) == 300.0
    assert float(_flag(cmd, "--idle-timeout")) == 60.0
    for absent in ("--model", "--tokenizer", "--api-key"):
        assert absent not in cmd


def test_locust_command_all_options(parse):
    args = parse(
        "--endpoint", "completions", "-u", "64", "-r", "2.5", "-t", "1h30m", "--workers", "4",
        "--model", "Qwen/Qwen3-8B", "--engine", "vllm", "--input-tokens", "1024",
        "--output-tokens", "256", "--dataset", "data.jsonl", "--tokenizer", "/m/tokenizer.json",
        "--warmup", "30", "--results-dir", "/tmp/res", "--api-key", "sk-1", "--seed", "7",
        "--stop-timeout", "60",
    )
    cmd = _locust_command(args)
    assert cmd[-1] == "OpenAICompletionsUser"
    assert _flag(cmd, "-u") == "64"
    assert _flag(cmd, "-r") == "2.5"
    assert _flag(cmd, "-t") == "5400s"
    assert _flag(cmd, "--stop-timeout") == "60s"
    assert _flag(cmd, "--processes") == "4"
    assert _flag(cmd, "--model") == "Qwen/Qwen3-8B"
    assert _flag(cmd, "--engine") == "vllm"
    assert _flag(cmd, "--input-tokens") == "1024"
    assert _flag(cmd, "--output-tokens") == "256"
    assert _flag(cmd, "--dataset") == "data.jsonl"
    assert _flag(cmd, "--tokenizer") == "/m/tokenizer.json"
    assert _flag(cmd, "--results-dir") == "/tmp/res"
    # the key travels by environment (TOKENSWARM_API_KEY), never in argv where ps shows it
    assert "--api-key" not in cmd and "sk-1" not in cmd
    assert _flag(cmd, "--seed") == "7"
    assert float(_flag(cmd, "--warmup")) == 30.0
    # the user class is the last argument, after every option
    assert all(not a.startswith("OpenAI") for a in cmd[:-1])


def test_locust_command_api_key_from_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    args = build_parser().parse_args(["run"])
    assert args.api_key == "sk-env"
    assert "sk-env" not in _locust_command(args)


@pytest.mark.parametrize("duration", ["20s", "90", "2m", "1h30m", "45m10s"])
def test_locust_accepts_run_time(parse, duration):
    cmd = _locust_command(parse("-t", duration))
    assert parse_timespan(_flag(cmd, "-t")) == parse_duration(duration)
    assert parse_timespan(_flag(cmd, "--stop-timeout")) == 30


@pytest.mark.parametrize("duration", ["90.5s", "1000000s", "300h"])
def test_locust_accepts_every_duration_parse_duration_accepts(parse, duration):
    """Locust takes whole seconds: fractions round up, large values stay plain integers."""
    cmd = _locust_command(parse("-t", duration))
    assert parse_timespan(_flag(cmd, "-t")) == math.ceil(parse_duration(duration))


def test_locust_accepts_fractional_stop_timeout(parse):
    cmd = _locust_command(parse("--stop-timeout", "2.5"))
    assert parse_timespan(_flag(cmd, "--stop-timeout")) == 3


def test_locust_command_rejects_bad_duration(parse):
    with pytest.raises(UserError):
        _locust_command(parse("-t", "soon"))


# --- LoadOptions ------------------------------------------------------------------------------


def _opts(**overrides) -> LoadOptions:
    values = {
        "model": "",
        "engine": "auto",
        "scenario": "",
        "input_tokens": 128,
        "output_tokens": 128,
        "dataset": "synthetic",
        "tokenizer": "",
        "connect_timeout": 10.0,
        "first_token_timeout": 300.0,
        "idle_timeout": 60.0,
        "warmup": 0.0,
        "run_id": "",
        "results_dir": "results",
        "api_key": "",
        "seed": 0,
    }
    values.update(overrides)
    return LoadOptions(**values)


def test_load_options_defaults_are_valid():
    _opts().validate()
    _opts(input_tokens=1, output_tokens=1, warmup=0.0, connect_timeout=0.001).validate()


@pytest.mark.parametrize(
    ("field", "value", "flag"),
    [
        ("input_tokens", 0, "--input-tokens"),
        ("input_tokens", -3, "--input-tokens"),
        ("output_tokens", 0, "--output-tokens"),
        ("connect_timeout", 0.0, "--connect-timeout"),
        ("connect_timeout", -1.0, "--connect-timeout"),
        ("first_token_timeout", 0.0, "--first-token-timeout"),
        ("idle_timeout", -0.5, "--idle-timeout"),
        ("warmup", -1.0, "--warmup"),
    ],
)
def test_load_options_validate_errors_name_the_flag(field, value, flag):
    with pytest.raises(UserError) as info:
        _opts(**{field: value}).validate()
    assert flag in str(info.value)


@pytest.mark.parametrize("field", ["connect_timeout", "first_token_timeout", "idle_timeout",
                                   "warmup"])
def test_load_options_reject_nan(field):
    with pytest.raises(UserError):
        _opts(**{field: float("nan")}).validate()


def test_load_options_from_run_namespace(parse):
    args = parse("--input-tokens", "64", "--api-key", "secret", "--run-id", "abc")
    args.warmup = effective_warmup(args)
    opts = LoadOptions.from_namespace(args)
    assert opts.input_tokens == 64
    assert opts.run_id == "abc"
    assert opts.warmup == 5.0
    snap = opts.snapshot()
    assert snap["api_key"] == "***"
    assert "secret" not in str(snap)
    assert _opts().snapshot()["api_key"] == ""


def test_load_options_from_namespace_validates(parse):
    with pytest.raises(UserError, match="--output-tokens"):
        LoadOptions.from_namespace(parse("--output-tokens", "0"))
    with pytest.raises(UserError, match="--idle-timeout"):
        LoadOptions.from_namespace(parse("--idle-timeout", "0"))


# --- normalize_base_url -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://h:8000", "http://h:8000"),
        ("http://h:8000/", "http://h:8000"),
        ("http://h:8000/v1", "http://h:8000"),
        ("http://h:8000/v1/", "http://h:8000"),
        ("  http://127.0.0.1:8000/v1/  ", "http://127.0.0.1:8000"),
        ("https://api.example.com/openai/v1", "https://api.example.com/openai"),
        ("https://api.example.com/prefix", "https://api.example.com/prefix"),
        ("http://h:8000//", "http://h:8000"),
        ("http://[::1]:8000/v1", "http://[::1]:8000"),
        ("http://h:8000/v10", "http://h:8000/v10"),
    ],
)
def test_normalize_base_url(url, expected):
    assert normalize_base_url(url) == expected


@pytest.mark.parametrize(
    "url", ["", "h:8000", "127.0.0.1:8000", "ftp://h", "http://", "http:///v1", "localhost",
            "//h:8000"]
)
def test_normalize_base_url_rejects(url):
    with pytest.raises(UserError, match="invalid host URL"):
        normalize_base_url(url)


@pytest.mark.parametrize(("duration", "warmup"), [("20s", 5.0), ("8s", 2.0), ("3s", 0.75)])
def test_default_warmup_is_five_seconds_or_a_quarter_of_a_short_run(parse, duration, warmup):
    assert effective_warmup(parse("-t", duration)) == warmup
    assert effective_warmup(parse("-t", duration, "--warmup", "0")) == 0.0


def test_run_options_default_from_tokenswarm_environment(monkeypatch):
    monkeypatch.setenv("TOKENSWARM_INPUT_TOKENS", "55")
    monkeypatch.setenv("TOKENSWARM_OUTPUT_TOKENS", "7")
    args = build_parser().parse_args(["run"])
    assert (args.input_tokens, args.output_tokens) == (55, 7)
    assert build_parser().parse_args(["run", "--input-tokens", "9"]).input_tokens == 9


def test_run_help_never_shows_an_api_key_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("TOKENSWARM_API_KEY", "sk-secret-value")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--help"])
    out = capsys.readouterr().out
    assert "sk-secret-value" not in out
    assert "(default: None)" not in out
    assert "(default: 16)" in out  # other defaults are still shown
