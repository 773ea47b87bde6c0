"""Hosts file parsing and the SSH/remote command lines built from it."""

from __future__ import annotations

import shlex

import pytest

from tokenswarm.errors import UserError
from tokenswarm.launch.hosts import HostSpec, parse_hosts
from tokenswarm.launch.ssh import remote_command, ssh_command


def test_every_field_and_the_defaults():
    hosts = parse_hosts(
        "# comment line\n"
        "bench@10.0.0.11:2222 workers=8 venv=/opt/ts/.venv/   # trailing comment\n"
        "\n"
        "10.0.0.12\n"
        "ops@[fd00::12]:22 python=/usr/bin/python3.11 workers=-1\n"
    )
    assert hosts == [
        HostSpec("10.0.0.11", "bench", 2222, 8, "/opt/ts/.venv/bin/python"),
        HostSpec("10.0.0.12", "", 22, -1, "python3"),
        HostSpec("[fd00::12]", "ops", 22, -1, "/usr/bin/python3.11"),
    ]
    assert hosts[2].destination == "ops@fd00::12"
    assert hosts[0].label == "bench@10.0.0.11:2222"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no hosts"),
        ("h workers=0", "workers must be -1"),
        ("h workers=two", "is not a number"),
        ("h cores=4", "'cores=4' is not one of"),
        ("h python=/a venv=/b", "not both"),
        ("h:99999", "out of range"),
        ("user@@h", "is not [user@]host[:port]"),
    ],
)
def test_bad_lines_name_the_file_and_line(text, message):
    with pytest.raises(UserError, match=r"hosts\.txt") as err:
        parse_hosts("# header\n" + text if text else text, "hosts.txt")
    assert message in str(err.value)


def test_remote_and_ssh_commands():
    spec = HostSpec("10.0.0.11", "bench", 2222, 8, "/opt/my venv/bin/python")
    remote = remote_command(spec, "10.0.0.5", 5557, "run-42")
    assert remote.startswith("exec ")
    assert shlex.split(remote)[1:] == [
        "env",
        "TOKENSWARM_RUN_ID=run-42",
        "/opt/my venv/bin/python",
        "-m",
        "tokenswarm",
        "worker",
        "--master-host",
        "10.0.0.5",
        "--master-port",
        "5557",
        "--processes",
        "8",
        "--exit-with-stdin",
    ]
    cmd = ssh_command(spec, remote, identity="/k", options=("StrictHostKeyChecking=no",))
    assert cmd == [
        "ssh",
        "-p",
        "2222",
        "-o",
        "BatchMode=yes",
        "-o",
        "ServerAliveInterval=15",
        "-i",
        "/k",
        "-o",
        "StrictHostKeyChecking=no",
        "bench@10.0.0.11",
        remote,
    ]
