"""User mistakes end with one clear line and status 2, never a traceback or a run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from helpers import CHAT_LOCUSTFILE, free_port, locust_cmd

pytestmark = pytest.mark.integration


@pytest.fixture
def non_openai_server() -> Iterator[str]:
    """A real HTTP server that is not an LLM server (Python's static file server)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "Serving HTTP on 127.0.0.1 port ..." once it listens
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def _tokenswarm(*args: str, tmp_path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "tokenswarm", "run", "-t", "3s", "--warmup", "1",
           "--results-dir", str(tmp_path), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in proc.stderr.splitlines() if line.startswith("tokenswarm: error:")]
    assert len(errors) == 1, output
    assert needle in errors[0], errors[0]


def test_unreachable_host(tmp_path):
    proc = _tokenswarm("--host", f"http://127.0.0.1:{free_port()}", tmp_path=tmp_path)
    _assert_one_line_error(proc, "cannot reach")


def test_wrong_model_name(sim_factory, tmp_path):
    sim = sim_factory()
    proc = _tokenswarm("--host", sim.url, "--model", "no-such-model", tmp_path=tmp_path)
    _assert_one_line_error(proc, "'no-such-model' is not served")
    assert "tokenswarm-sim" in proc.stderr  # the error lists what is available


def test_non_openai_server(non_openai_server, tmp_path):
    proc = _tokenswarm("--host", non_openai_server, tmp_path=tmp_path)
    _assert_one_line_error(proc, "does not look like an OpenAI-compatible server")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--users", "0"), "--users must be at least 1"),
        (("--duration", "ten"), "invalid duration 'ten'"),
        (("--output-tokens", "0"), "--output-tokens must be at least 1"),
        (("--first-token-timeout", "-1"), "--first-token-timeout must be > 0"),
    ],
)
def test_bad_values(sim_factory, tmp_path, args, needle):
    sim = sim_factory()
    proc = _tokenswarm("--host", sim.url, *args, tmp_path=tmp_path)
    _assert_one_line_error(proc, needle)


def test_malformed_host_url(tmp_path):
    proc = _tokenswarm("--host", "http://[::1", tmp_path=tmp_path)
    _assert_one_line_error(proc, "invalid host URL")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "dataset file not found"),
        ('{"prompt": "hi"}\n{not json\n', "bad.jsonl:2: invalid JSON"),
        ("\n", "empty dataset"),
    ],
)
def test_bad_dataset_fails_before_any_load(sim_factory, tmp_path, content, needle):
    sim = sim_factory()
    path = tmp_path / "bad.jsonl"
    if content is not None:
        path.write_text(content)
    proc = _tokenswarm("--host", sim.url, "--dataset", str(path), tmp_path=tmp_path)
    _assert_one_line_error(proc, needle)
    assert sim.stats()["requests_total"] == 0


def test_unloadable_tokenizer_file(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"a": 1}')
    proc = _tokenswarm("--tokenizer", str(bad), tmp_path=tmp_path)
    _assert_one_line_error(proc, "cannot load tokenizer")


def test_plain_locust_headless_without_host(tmp_path):
    cmd = [sys.executable, "-m", "locust", "-f", CHAT_LOCUSTFILE, "--headless", "-t", "2s"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    _assert_one_line_error(proc, "no target: pass --host")


def test_missing_tokenizer_path(tmp_path):
    proc = _tokenswarm("--tokenizer", str(tmp_path / "nope"), tmp_path=tmp_path)
    _assert_one_line_error(proc, "tokenizer not found")


def test_plain_locust_unreachable_host(tmp_path):
    cmd = locust_cmd(CHAT_LOCUSTFILE, f"http://127.0.0.1:{free_port()}", "--headless", "-t", "2s")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    _assert_one_line_error(proc, "cannot reach")


def test_plain_locust_bad_value_in_config_file(sim_factory, tmp_path):
    sim = sim_factory()
    conf = tmp_path / "bad.conf"
    conf.write_text("headless = true\nrun-time = 2s\ninput-tokens = 0\n")
    cmd = locust_cmd(CHAT_LOCUSTFILE, sim.url, "--config", str(conf))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    _assert_one_line_error(proc, "--input-tokens must be at least 1")


def test_plain_locust_missing_tokenizer(sim_factory, tmp_path):
    sim = sim_factory()
    cmd = locust_cmd(CHAT_LOCUSTFILE, sim.url, "--headless", "-t", "2s",
                     "--tokenizer", "/nonexistent/model")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    _assert_one_line_error(proc, "tokenizer not found")
