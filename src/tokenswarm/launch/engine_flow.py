"""Start an engine, wait until it serves, run a command against it, stop the engine.

``serve_and_run`` is the whole flow for one accelerator count:

1. the server command (:mod:`tokenswarm.launch.engines`) starts in its own process group with
   the visible devices in its environment, its output going to a log file;
2. ``GET /v1/models`` is polled every 0.5 s until it answers 200 with at least one model
   (vLLM and SGLang answer once the weights are loaded; Xinference answers at once, then lists
   the model after the setup command launched it). The engine exiting first, or the deadline
   passing, is a UserError quoting the last lines of its log;
3. the command (the sweep) runs with ``{url}``, ``{run_id}``, ``{accelerators}``, ``{model}``
   substituted and ``TOKENSWARM_RUN_ID`` set; its exit status is the flow's;
4. the server's whole process group is stopped (SIGTERM, ``stop_timeout_s``, SIGKILL), also
   when anything above failed or was interrupted.

``scaling_runs`` repeats it for 1 and N accelerators (run ids ``<id>-1x`` and ``<id>-<N>x``):
the two results directories are what ``tokenswarm report`` compares for scaling efficiency
(tps(N) / (N * tps(1))).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenswarm.errors import UserError
from tokenswarm.launch.engines import EngineLaunch, substitute
from tokenswarm.launch.process import forwarding_signals, start_group, stop_group

POLL_S = 0.5
LOG_TAIL_LINES = 5


@dataclass(frozen=True)
class FlowResult:
    run_id: str
    accelerators: int
    exit_code: int
    log: Path


def serve_and_run(
    launch: EngineLaunch, command: Sequence[str], run_id: str, log_path: Path
) -> FlowResult:
    """The flow above for one server configuration."""
    if _models(launch.url) is not None:
        raise UserError(
            f"something already serves {launch.url}/v1/models: stop it or change launch: port "
            "(the flow would measure that server, not the one it starts)"
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    accelerators = launch.tensor_parallel_size  # the parallel degree: devices may list spares
    command_line = launch.server_command()
    # SIGTERM (timeout, CI, Kubernetes) while the server loads must still stop it: it runs in
    # a session of its own and would keep the accelerators
    previous = signal.signal(signal.SIGTERM, _interrupt)
    with log_path.open("ab") as log:
        try:
            server = start_group(command_line, env=launch.server_env(), stdout=log,
                                 stderr=subprocess.STDOUT)
        except OSError as exc:
            signal.signal(signal.SIGTERM, previous)
            raise UserError(f"cannot start {command_line[0]!r}: {exc.strerror} (is "
                            f"{launch.engine} installed here? launch: command overrides it)"
                            ) from None
        try:
            _wait_ready(launch, server, log_path, setup=launch.setup_commands())
            values = {
                "url": launch.url,
                "run_id": run_id,
                "accelerators": accelerators,
                "model": launch.served_model_name or launch.model,
            }
            argv = substitute(command, values, "the command")
            print(
                f"tokenswarm: {launch.engine} serves at {launch.url} on devices "
                f"{','.join(map(str, launch.devices))}; running: {' '.join(argv)}",
                flush=True,
            )
            code = _run_command(argv, run_id)
        finally:
            stop_group(server, launch.stop_timeout_s)
            signal.signal(signal.SIGTERM, previous)
    return FlowResult(run_id, accelerators, code, log_path)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def scaling_runs(
    launch: EngineLaunch,
    counts: Sequence[int],
    command: Sequence[str],
    base_run_id: str,
    log_dir: Path,
) -> list[FlowResult]:
    """One flow per accelerator count; stops at the first failing one. Every count is checked
    against the devices first: a bad one must not surface after hours of the first flow."""
    for n in counts:
        launch.with_accelerators(n)
    results = []
    for n in counts:
        run_id = f"{base_run_id}-{n}x"
        result = serve_and_run(
            launch.with_accelerators(n), command, run_id, log_dir / f"engine-{run_id}.log"
        )
        results.append(result)
        if result.exit_code:
            break
    return results


def _run_command(argv: list[str], run_id: str) -> int:
    env = {**os.environ, "TOKENSWARM_RUN_ID": run_id}
    try:
        child = start_group(argv, env=env, stdin=None)
    except OSError as exc:
        raise UserError(f"cannot run {argv[0]!r}: {exc.strerror}") from None
    with forwarding_signals(child):
        return child.wait()


def _wait_ready(
    launch: EngineLaunch, server: subprocess.Popen[bytes], log_path: Path, setup: list[list[str]]
) -> None:
    deadline = time.monotonic() + launch.ready_timeout_s
    answered = False
    while time.monotonic() < deadline:
        code = server.poll()
        if code is not None:
            raise UserError(
                f"the {launch.engine} server exited with status {code} before "
                f"serving{_tail(log_path)}"
            )
        models = _models(launch.url)
        if models is not None and not answered:
            answered = True
            for cmd in setup:
                if subprocess.run(cmd, stdin=subprocess.DEVNULL, check=False).returncode:
                    raise UserError(f"setup command failed: {' '.join(cmd)}{_tail(log_path)}")
        if models:
            return
        time.sleep(POLL_S)
    raise UserError(
        f"the {launch.engine} server did not serve GET {launch.url}/v1/models "
        f"within {launch.ready_timeout_s:g} s{_tail(log_path)}"
    )


def _models(url: str) -> list[object] | None:
    """The ``data`` list of /v1/models, or None while the server does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as resp:
            data = json.loads(resp.read()).get("data")
    except (OSError, ValueError, urllib.error.URLError, AttributeError):
        return None
    return data if isinstance(data, list) else None


def _tail(log_path: Path) -> str:
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
    shown = " | ".join(line.strip() for line in lines if line.strip())
    return f" (log {log_path}: {shown})" if shown else f" (log {log_path} is empty)"
