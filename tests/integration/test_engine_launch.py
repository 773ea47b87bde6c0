"""``tokenswarm engine`` with the simulated engine standing in for vLLM (the server command is
overridable): start it with the visible devices set, wait for /v1/models, run a command, stop
the server's whole process group; the 1-vs-N scaling flow; one-line errors when the server
never serves or dies first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from helpers import free_port

pytestmark = pytest.mark.integration

PY = sys.executable


def _config(tmp_path: Path, server: str, **extra: object) -> Path:
    """A config whose launch: block runs ``sh -c server`` ({port} etc. substituted)."""
    launch = {
        "engine": "vllm",
        "model": "/models/fake",
        "port": free_port(),
        "devices": [0, 1, 2, 3],
        "device_env": "CUDA_VISIBLE_DEVICES",
        "command": ["sh", "-c", server],
        **extra,
    }
    path = tmp_path / "engine.yaml"
    path.write_text(yaml.safe_dump({"launch": launch}))
    return path


def _engine(config: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            PY,
            "-m",
            "tokenswarm",
            "engine",
            "--config",
            str(config),
            "--results-dir",
            str(tmp_path / "results"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return True
    return state == "Z"


def test_serves_runs_the_command_and_stops_the_whole_group(tmp_path):
    seen = tmp_path / "seen"
    # the server leaves a helper process behind in its group, like vLLM's rank workers
    server = (
        f"sleep 300 & echo $! > {tmp_path}/helper.pid; "
        f"echo $CUDA_VISIBLE_DEVICES tp={{tp}} > {tmp_path}/server.env; "
        f"exec {PY} -m tokenswarm.sim --port {{port}}"
    )
    probe = (
        "import os, sys, urllib.request; "
        "body = urllib.request.urlopen(sys.argv[1] + '/v1/models').read().decode(); "
        "open(sys.argv[2], 'w').write(' '.join([os.environ['TOKENSWARM_RUN_ID'], "
        "sys.argv[3], str('data' in body)])); sys.exit(7)"
    )
    result = _engine(
        _config(tmp_path, server),
        tmp_path,
        "--accelerators",
        "2",
        "--run-id",
        "r1",
        "--",
        PY,
        "-c",
        probe,
        "{url}",
        str(seen),
        "{accelerators}",
    )
    assert result.returncode == 7, result.stderr  # the command's status is the flow's
    assert seen.read_text() == "r1 2 True"
    assert (tmp_path / "server.env").read_text().split() == ["0,1", "tp=2"]
    helper = int((tmp_path / "helper.pid").read_text())
    assert _gone(helper), "the server's process group was stopped, helpers included"
    assert (tmp_path / "results" / "engine-r1.log").is_file()


def test_scaling_flow_feeds_the_report(tmp_path):
    """1 then 2 accelerators, each served and swept at matched load per accelerator
    (``short:{accelerators}`` users); the two results directories give the report its
    scaling efficiency = tps(2) / (2 * tps(1))."""
    server = f"exec {PY} -m tokenswarm.sim --port {{port}}"
    results = tmp_path / "results"
    sweep = [
        PY,
        "-m",
        "tokenswarm",
        "sweep",
        "--host",
        "{url}",
        "--scenario",
        "short:{accelerators}",
        "-t",
        "3s",
        "--warmup",
        "1s",
        "--workers",
        "0",
        "--run-id",
        "{run_id}",
        "--accelerators",
        "{accelerators}",
        "--results-dir",
        str(results),
    ]
    result = _engine(
        _config(tmp_path, server), tmp_path, "--scaling", "1,2", "--run-id", "s", "--", *sweep
    )
    assert result.returncode == 0, result.stderr[-3000:]
    one, two = results / "s-1x", results / "s-2x"
    assert f"tokenswarm report {one} {two}" in result.stdout
    tps = {}
    for n, run_dir in ((1, one), (2, two)):
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["accelerators"] == n and summary["stages"][0]["users"] == n
        tps[n] = summary["stages"][0]["throughput"]["output_tps"]
    report = subprocess.run(
        [
            PY,
            "-m",
            "tokenswarm",
            "report",
            str(one),
            str(two),
            "-o",
            str(tmp_path / "scaling.html"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    efficiency = 100 * tps[2] / (2 * tps[1])
    assert 80 < efficiency < 120  # the simulator is far from saturated at 2 streams
    markdown = (tmp_path / "scaling.md").read_text()
    assert f"| {efficiency:.2f} | > 95 |" in markdown, markdown[-3000:]


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ("echo $$ > {pidfile}; exec sleep 300", "did not serve GET"),
        ("echo cuda out of memory >&2; exit 3", "exited with status 3 before serving"),
    ],
    ids=["never-serves", "dies-early"],
)
def test_a_server_that_does_not_come_up_is_one_line(tmp_path, server, expected):
    pidfile = tmp_path / "server.pid"
    config = _config(tmp_path, server.format(pidfile=pidfile), ready_timeout_s=1.5)
    started = time.monotonic()
    result = _engine(config, tmp_path, "--", PY, "-c", "raise SystemExit(9)")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tokenswarm: error:"), result.stderr
    assert expected in lines[0]
    assert time.monotonic() - started < 30
    if "exit 3" in server:
        assert "cuda out of memory" in lines[0]  # the log's last lines say why
    else:
        assert _gone(int(pidfile.read_text()))
    assert os.path.isdir(tmp_path / "results")


def test_refuses_to_start_where_a_server_already_answers(tmp_path, sim_factory):
    running = sim_factory("--preset", "default")
    port = int(running.url.rsplit(":", 1)[1])
    config = _config(tmp_path, "exec sleep 300", port=port)
    result = _engine(config, tmp_path, "--", PY, "-c", "raise SystemExit(9)")
    assert result.returncode == 2
    assert "something already serves" in result.stderr and result.stderr.count("\n") == 1
