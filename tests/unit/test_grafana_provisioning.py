"""Provisioning files, the compose file and the README agree with each other and the code.

No Grafana server or Docker daemon runs here (INFLUX-GRAFANA-NOTES section 3.1): what can be
checked offline is that the YAML parses, the datasource is InfluxQL with every setting the
backend needs, the compose file mounts what the provider and home dashboard point at, and the
init script that creates the DBRP mapping is a valid, executable shell script.
"""

from __future__ import annotations

import os
import re
import subprocess

import yaml
from helpers import REPO

from tokenswarm.grafana import DASHBOARDS
from tokenswarm.influx.schema import markdown_table

GRAFANA = REPO / "grafana"


def _yaml(path: str) -> dict:
    return yaml.safe_load((GRAFANA / path).read_text())


def test_datasource_is_influxql_with_database_and_token_from_the_environment():
    (source,) = _yaml("provisioning/datasources/influxdb.yaml")["datasources"]
    assert source["type"] == "influxdb" and source["uid"] == "tokenswarm-influxdb"
    data = source["jsonData"]
    assert data["version"] == "InfluxQL" and data["httpMode"] in ("GET", "POST")
    assert data["dbName"] == source["database"] == "${INFLUX_DB}"
    assert source["url"] == "${INFLUX_URL}"
    assert data["httpHeaderName1"] == "Authorization"
    assert source["secureJsonData"]["httpHeaderValue1"] == "Token ${INFLUX_TOKEN}"


def test_compose_mounts_what_the_provisioning_and_the_home_dashboard_name():
    compose = _yaml("compose.yaml")
    grafana, influx = compose["services"]["grafana"], compose["services"]["influxdb"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"] if
                  v.startswith("./"))
    (provider,) = _yaml("provisioning/dashboards/tokenswarm.yaml")["providers"]
    dashboards_dir = provider["options"]["path"]
    assert mounts["./dashboards"] == dashboards_dir
    assert mounts["./provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.rsplit("/", 1)[0] == dashboards_dir and home.rsplit("/", 1)[1] in DASHBOARDS
    for source in mounts:
        assert (GRAFANA / source).is_dir()
    # the datasource's ${VARS} are all set on the Grafana service
    text = (GRAFANA / "provisioning/datasources/influxdb.yaml").read_text()
    used = set(re.findall(r"\$\{(\w+)\}", text))
    assert used <= set(grafana["environment"])
    assert grafana["environment"]["INFLUX_URL"] == "http://influxdb:8086"
    assert all(p.startswith("127.0.0.1:") for s in (grafana, influx) for p in s["ports"])
    init = [v for v in influx["volumes"] if v.startswith("./influxdb-init:")]
    assert init == ["./influxdb-init:/docker-entrypoint-initdb.d:ro"]
    assert influx["environment"]["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    assert influx["environment"]["TOKENSWARM_DB"] == grafana["environment"]["INFLUX_DB"]


def test_dbrp_init_script_is_executable_shell_mapping_the_database():
    script = GRAFANA / "influxdb-init" / "10-tokenswarm-dbrp.sh"
    assert os.access(script, os.X_OK)
    assert subprocess.run(["sh", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    assert "influx v1 dbrp create" in text and "--bucket-id" in text and "--db" in text


def test_readme_schema_table_is_the_schema_module():
    assert markdown_table() in (GRAFANA / "README.md").read_text()
