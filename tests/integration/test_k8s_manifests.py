"""The Kubernetes manifests under launchers/k8s/ pass offline schema validation (strict: no
unknown fields) and fit together: references resolve, commands parse, counts agree."""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from string import Template
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helpers import REPO

from tokenswarm.launch import nodes

K8S = REPO / "launchers" / "k8s"
KUBERNETES_VERSIONS = ("1.28.0", "1.33.0")
# parses a Locust config file with Locust's parser plus tokenswarm's options (in a child
# process: importing locust here would monkey-patch the test process)
PARSE_CONF = """
import json, sys
from locust.argument_parser import get_parser
from tokenswarm.loadgen.options import register_arguments
parser = get_parser()
register_arguments(parser)
ns = parser.parse_args(["--config", sys.argv[1]])
print(json.dumps({"users": ns.num_users, "input_tokens": ns.input_tokens}))
"""


def _docs() -> dict[tuple[str, str], dict[str, Any]]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_for_the_kubernetes_api(version):
    docs = _docs()
    assert {kind for kind, _ in docs} == {
        "Namespace",
        "ConfigMap",
        "Deployment",
        "Service",
        "DaemonSet",
    }
    for doc in docs.values():
        kubernetes_validate.validate(doc, version, strict=True)


def test_schema_validation_rejects_a_broken_manifest():
    broken = _docs()[("Deployment", "tokenswarm-worker")]
    broken["spec"]["replicas"] = "eight"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = sorted(kustomization["resources"])
    assert listed == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]["containers"][0]


def test_the_pieces_fit_together(tmp_path):
    docs = _docs()
    master = docs[("Deployment", "tokenswarm-master")]
    worker = docs[("Deployment", "tokenswarm-worker")]
    agent = docs[("DaemonSet", "tokenswarm-agent")]
    service = docs[("Service", "tokenswarm-master")]
    env = docs[("ConfigMap", "tokenswarm-env")]["data"]
    config = docs[("ConfigMap", "tokenswarm-config")]["data"]

    master_labels = master["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= master_labels.items()
    for doc in (master, worker, agent):
        assert (
            doc["spec"]["selector"]["matchLabels"].items()
            <= doc["spec"]["template"]["metadata"]["labels"].items()
        )
        for ref in _container(doc).get("envFrom", []):
            assert ("ConfigMap", ref["configMapRef"]["name"]) in docs

    # the worker command is a valid `tokenswarm worker` command aimed at the master Service
    parser = argparse.ArgumentParser()
    nodes.register(parser.add_subparsers())
    command = _container(worker)["command"]
    assert command[0] == "tokenswarm"
    args = parser.parse_args(command[1:])
    assert args.master_host == service["metadata"]["name"]
    assert args.master_port == service["spec"]["ports"][0]["port"]
    assert int(env["EXPECT_WORKERS"]) == worker["spec"]["replicas"] * args.processes

    # the master's shell command: `tokenswarm master` over the mounted config file
    script = Template(_container(master)["args"][0]).safe_substitute(env)
    master_cmd = shlex.split(script.split(";")[0])
    master_args = parser.parse_args(master_cmd[1:])
    assert master_args.bind_port == args.master_port
    assert master_args.locust_args[-2:] == ["--config", "/etc/tokenswarm/tokenswarm.conf"]

    # the mounted config file holds only options Locust and tokenswarm know
    conf = tmp_path / "tokenswarm.conf"
    conf.write_text(config["tokenswarm.conf"])
    parsed = subprocess.run(
        [sys.executable, "-c", PARSE_CONF, str(conf)], capture_output=True, text=True, timeout=60
    )
    assert parsed.returncode == 0, parsed.stderr[-2000:]
    assert json.loads(parsed.stdout.splitlines()[-1]) == {"users": 512, "input_tokens": 256}

    assert agent["spec"]["template"]["spec"]["nodeSelector"] == {"tokenswarm.io/gpu": "true"}
    assert _container(agent)["command"][:2] == ["tokenswarm", "agent"]
