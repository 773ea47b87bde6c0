"""``tokenswarm run``: the main job on the embedded simulator, single process and with workers."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from tokenswarm.run_cli import default_workers

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("extra", "user_class", "workers"),
    [
        ((), "OpenAIChatUser", default_workers() or 1),  # default: one worker per core
        (("--workers", "0", "--endpoint", "completions"), "OpenAICompletionsUser", 1),
    ],
)
def test_run_on_embedded_simulator(tmp_path, extra, user_class, workers):
    cmd = [sys.executable, "-m", "tokenswarm", "run", "-u", "6", "-t", "6s", "--warmup", "1",
           "--run-id", "smoke", "--results-dir", str(tmp_path), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "simulated engine (preset default)" in proc.stdout
    assert "tokenswarm results: run smoke" in proc.stdout
    assert "TTFT" in proc.stdout and "throughput: output" in proc.stdout

    summary = json.loads((tmp_path / "smoke" / "summary.json").read_text())
    assert summary["requests"]["ok"] > 0 and summary["requests"]["failed"] == 0
    assert summary["throughput"]["output_tps"] > 0
    assert summary["config"]["input_tokens"] == 128
    # the built-in simulator counts prompt tokens with the tokenizer the prompts were built for
    assert summary["tokens"]["prompt_tokens_mismatch"]["requests"] == 0
    assert summary["tokens"]["input_tokens"] == 128 * summary["requests"]["ok"]
    rows = pd.read_csv(tmp_path / "smoke" / "requests.csv")
    assert set(rows["status"]) == {"ok"}
    assert summary["config"]["user_classes"] == [user_class]
    assert len(summary["workers"]) == workers
