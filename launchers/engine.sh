#!/usr/bin/env bash
# Start vLLM / SGLang / Xinference from a config, wait until it serves, run a command (the
# sweep), stop the server (tokenswarm engine --help):
#   launchers/engine.sh --config configs/vllm.yaml -- tokenswarm sweep --config configs/vllm.yaml
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
python="$(tokenswarm_python)" || exit 2
exec "$python" -m tokenswarm engine "$@"
