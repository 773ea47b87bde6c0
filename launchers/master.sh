#!/usr/bin/env bash
# The master that remote workers join (workers: launchers/worker.sh or ssh-workers.sh).
#   launchers/master.sh --expect-workers 16 -- --host http://gpu:8000 -u 512 -t 5m --warmup 30
#   launchers/master.sh sweep --config configs/vllm.yaml --expect-workers 16
# The first form is `tokenswarm master` (one run, Locust options after --); the second is
# `tokenswarm sweep` as the master of external workers.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
python="$(tokenswarm_python)" || exit 2
if [[ "${1:-}" == "sweep" ]]; then
  shift
  exec "$python" -m tokenswarm sweep "$@"
fi
exec "$python" -m tokenswarm master "$@"
