#!/usr/bin/env bash
# Start workers on every host of a hosts file over SSH (tokenswarm ssh-workers --help):
#   launchers/ssh-workers.sh --hosts hosts.txt --master-host 10.0.0.5
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
python="$(tokenswarm_python)" || exit 2
exec "$python" -m tokenswarm ssh-workers "$@"
