"""The SSH launcher through a real ``sshd`` on 127.0.0.1: temporary host and user keys, its own
config and port (no system service). A worker started over SSH joins a master and runs load;
stopping the launcher stops the remote worker (no orphan on the load host)."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import free_port, wait_for

from tokenswarm.launch.nodes import master_command

pytestmark = pytest.mark.integration

SSHD = "/usr/sbin/sshd"  # sshd refuses to start unless run by its absolute path


@dataclass
class Sshd:
    port: int
    key: Path
    known_hosts: Path

    def launcher(self, hosts: Path, master_port: int, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tokenswarm",
            "ssh-workers",
            "--hosts",
            str(hosts),
            "--master-host",
            "127.0.0.1",
            "--master-port",
            str(master_port),
            "-i",
            str(self.key),
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "StrictHostKeyChecking=accept-new",
            *extra,
        ]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[Sshd]:
    d = tmp_path / "sshd"
    d.mkdir()
    _keygen(d / "host_key")
    _keygen(d / "user_key")
    shutil.copy(d / "user_key.pub", d / "authorized_keys")
    port = free_port()
    lines = [
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {d / 'host_key'}",
        f"PidFile {d / 'sshd.pid'}",
        f"AuthorizedKeysFile {d / 'authorized_keys'}",
        "StrictModes no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "PermitRootLogin prohibit-password",
        f"AllowUsers {getpass.getuser()}",
        "LogLevel ERROR",
    ]
    if os.environ.get("PYTHONPATH"):  # the remote worker imports the code under test
        lines.append(f"SetEnv PYTHONPATH={os.environ['PYTHONPATH']}")
    (d / "sshd_config").write_text("\n".join(lines) + "\n")
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    proc = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def listening() -> bool:
        assert proc.poll() is None, f"sshd exited: {proc.stderr.read() if proc.stderr else ''}"
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, 10, "sshd listening")
        yield Sshd(port, d / "user_key", d / "known_hosts")
    finally:
        proc.terminate()
        proc.wait(10)


def _hosts_file(tmp_path: Path, sshd: Sshd) -> Path:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(
        f"# test host\n{getpass.getuser()}@127.0.0.1:{sshd.port}  workers=1  "
        f"python={sys.executable}\n"
    )
    return hosts


def _processes_with(*markers: str) -> list[int]:
    """PIDs whose command line contains every marker (observed, never signalled by name)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if all(marker in cmdline for marker in markers):
                pids.append(int(entry.name))
    return pids


def test_worker_started_over_ssh_runs_the_load(sshd, sim_factory, tmp_path):
    sim = sim_factory("--preset", "default")
    master_port, results = free_port(), tmp_path / "results"
    launcher = subprocess.Popen(
        sshd.launcher(_hosts_file(tmp_path, sshd), master_port, "--run-id", "viassh"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        master = subprocess.run(
            master_command(
                1,
                "127.0.0.1",
                master_port,
                60,
                [
                    "--host",
                    sim.url,
                    "-u",
                    "4",
                    "-t",
                    "3s",
                    "--warmup",
                    "0",
                    "--stop-timeout",
                    "5",
                    "--results-dir",
                    str(results),
                    "--run-id",
                    "viassh",
                    "OpenAIChatUser",
                ],
            ),
            capture_output=True,
            text=True,
            timeout=90,
        )
        out, _ = launcher.communicate(timeout=30)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    assert master.returncode == 0, master.stderr[-3000:] + out[-2000:]
    assert launcher.returncode == 0, out[-3000:]
    assert f"[{getpass.getuser()}@127.0.0.1:{sshd.port}]" in out  # relayed remote output
    summary = json.loads((results / "viassh" / "summary.json").read_text())
    assert len(summary["workers"]) == 1 and summary["requests"]["ok"] > 0


def test_stopping_the_launcher_stops_the_remote_workers(sshd, tmp_path):
    master_port = free_port()  # no master: the workers wait for one
    launcher = subprocess.Popen(
        sshd.launcher(_hosts_file(tmp_path, sshd), master_port, "--run-id", "r-ssh"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    marker = f"--master-port {master_port}"
    try:
        remote = wait_for(
            lambda: _processes_with("-m locust", marker),  # started by the remote worker
            20,
            "the remote worker's Locust process",
        )
        environ = Path(f"/proc/{remote[0]}/environ").read_bytes().split(b"\0")
        launcher.send_signal(signal.SIGINT)
        out, _ = launcher.communicate(timeout=30)
        wait_for(
            lambda: not _processes_with("tokenswarm", marker), 20, "the remote workers to stop"
        )
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
    assert launcher.returncode == 130, out[-2000:]
    assert b"TOKENSWARM_RUN_ID=r-ssh" in environ  # the run id reached the remote worker
    assert "stopping the remote workers" in out
