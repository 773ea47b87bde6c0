#!/usr/bin/env bash
# Locust worker process(es) on a load host; refused (exit 2, one line) when this host's
# tokenswarm or locust version differs from the master's (tokenswarm worker --help):
#   launchers/worker.sh --master-host 10.0.0.5 --processes -1
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
python="$(tokenswarm_python)" || exit 2
exec "$python" -m tokenswarm worker "$@"
