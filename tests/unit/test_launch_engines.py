"""Engine launch settings: validation and the server command line of each engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenswarm.errors import UserError
from tokenswarm.launch.engine_flow import scaling_runs, serve_and_run
from tokenswarm.launch.engines import EngineLaunch

BASE = {
    "model": "/models/q7",
    "port": 8001,
    "memory_fraction": 0.85,
    "max_model_len": 8192,
    "devices": "0,1,2,3,4,5,6,7",
}


def test_vllm_command_with_tensor_parallel_n():
    launch = EngineLaunch.from_mapping(
        {"engine": "vllm", **BASE, "extra_args": "--max-num-seqs 256"}
    )
    assert launch.with_accelerators(8).server_command() == [
        "vllm",
        "serve",
        "/models/q7",
        "--host",
        "127.0.0.1",
        "--port",
        "8001",
        "--tensor-parallel-size",
        "8",
        "--gpu-memory-utilization",
        "0.85",
        "--max-model-len",
        "8192",
        "--max-num-seqs",
        "256",
    ]
    assert launch.url == "http://127.0.0.1:8001"


def test_sglang_command_scaled_by_data_parallel():
    launch = EngineLaunch.from_mapping(
        {"engine": "sglang", **BASE, "scale_by": "data", "served_model_name": "q7"}
    )
    assert launch.with_accelerators(2).server_command() == [
        "python3",
        "-m",
        "sglang.launch_server",
        "--model-path",
        "/models/q7",
        "--host",
        "127.0.0.1",
        "--port",
        "8001",
        "--dp-size",
        "2",
        "--mem-fraction-static",
        "0.85",
        "--context-length",
        "8192",
        "--served-model-name",
        "q7",
    ]


def test_xinference_starts_the_server_then_launches_the_model():
    launch = EngineLaunch.from_mapping(
        {"engine": "xinference", **BASE, "served_model_name": "qwen2.5-instruct"}
    )
    n4 = launch.with_accelerators(4)
    assert n4.server_command() == ["xinference-local", "--host", "127.0.0.1", "--port", "8001"]
    assert n4.setup_commands() == [
        [
            "xinference",
            "launch",
            "--endpoint",
            "http://127.0.0.1:8001",
            "--model-name",
            "qwen2.5-instruct",
            "--model-engine",
            "vllm",
            "--model-path",
            "/models/q7",
            "--n-gpu",
            "4",
            "--gpu_memory_utilization",
            "0.85",
            "--max_model_len",
            "8192",
        ]
    ]
    by_name = EngineLaunch.from_mapping({"engine": "xinference", "model": "qwen2.5-instruct"})
    assert by_name.setup_commands()[0][4:8] == [
        "--model-name",
        "qwen2.5-instruct",
        "--model-engine",
        "vllm",
    ]
    assert "--model-path" not in by_name.setup_commands()[0]


def test_visible_devices_environment():
    launch = EngineLaunch.from_mapping({"engine": "vllm", **BASE, "env": {"VLLM_X": 1}})
    env = launch.with_accelerators(2).server_env({})
    expected = "HIP_VISIBLE_DEVICES" if Path("/dev/kfd").exists() else "CUDA_VISIBLE_DEVICES"
    assert env == {expected: "0,1", "VLLM_X": "1"}
    hip = EngineLaunch.from_mapping(
        {"engine": "vllm", **BASE, "device_env": "HIP_VISIBLE_DEVICES", "devices": [4, 5]}
    )
    assert hip.server_env({}) == {"HIP_VISIBLE_DEVICES": "4,5"}


def test_command_override_placeholders():
    launch = EngineLaunch.from_mapping(
        {"engine": "vllm", **BASE, "command": "serve --port {port} --tp {tp} {devices}"}
    )
    assert launch.with_accelerators(2).server_command() == [
        "serve",
        "--port",
        "8001",
        "--tp",
        "2",
        "0,1",
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"engine": "tgi"}, "engine must be one of"),
        ({"modle": "x"}, "unknown launch key(s) modle"),
        ({"model": ""}, "model (path or id) is required"),
        ({"memory_fraction": 1.5}, "memory_fraction must be in (0, 1]"),
        ({"devices": "0,a"}, "devices must be indexes"),
        ({"scale_by": "pipeline"}, "scale_by must be tensor or data"),
        ({"port": "eighty"}, "port must be a number"),
        ({"command": "serve {prot}"}, "bad placeholder 'prot'"),
    ],
)
def test_mistakes_are_one_line_errors(changes, message):
    with pytest.raises(UserError, match=r"cfg\.yaml") as err:
        EngineLaunch.from_mapping({"engine": "vllm", **BASE, **changes}, "cfg.yaml")
    assert message in str(err.value)


def test_more_accelerators_than_devices():
    launch = EngineLaunch.from_mapping({"engine": "vllm", **BASE, "devices": [0, 1]})
    with pytest.raises(UserError, match="devices lists only 2"):
        launch.with_accelerators(8)


def test_missing_engine_binary_is_one_line_error(tmp_path):
    launch = EngineLaunch.from_mapping(
        {"engine": "vllm", **BASE, "command": ["/nonexistent/vllm-serve", "--port", "{port}"]})
    with pytest.raises(UserError, match="cannot start '/nonexistent/vllm-serve'"):
        serve_and_run(launch, ["true"], "r", tmp_path / "engine.log")


def test_scaling_counts_are_checked_before_the_first_server_starts(tmp_path):
    launch = EngineLaunch.from_mapping(
        {"engine": "vllm", **BASE, "devices": [0, 1], "command": ["/nonexistent/x"]})
    # 8 > 2 devices: refused before the 1-accelerator flow starts (which would fail otherwise)
    with pytest.raises(UserError, match="8 accelerators asked"):
        scaling_runs(launch, [1, 8], ["true"], "s", tmp_path)
    assert not list(tmp_path.iterdir())  # no server was started, no log written

