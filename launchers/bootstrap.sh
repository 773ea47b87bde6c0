#!/usr/bin/env bash
# Create .venv in the repository and install tokenswarm into it (editable).
#   bash launchers/bootstrap.sh          # the tool
#   bash launchers/bootstrap.sh --test   # the tool + test dependencies
# On Debian/Ubuntu, python3 -m venv needs the python3-venv package: installed here when
# running as root with apt-get, otherwise the command to run is printed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras=""
if [[ "${1:-}" == "--test" ]]; then
  extras="[test]"
fi
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "bootstrap: error: Python 3.10+ is required (found: $("$python" --version 2>&1))" >&2
  exit 2
fi

if [[ ! -x "$repo/.venv/bin/python" ]]; then
  if ! "$python" -m venv "$repo/.venv" >/dev/null 2>&1; then
    rm -rf "$repo/.venv"
    pkg="python3-venv"
    if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
      echo "bootstrap: installing $pkg with apt-get" >&2
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
      "$python" -m venv "$repo/.venv"
    else
      echo "bootstrap: error: '$python -m venv' failed; install it: sudo apt-get install $pkg" >&2
      exit 2
    fi
  fi
fi

echo "bootstrap: installing tokenswarm$extras into $repo/.venv" >&2
"$repo/.venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$repo/.venv/bin/python" -m pip install -q -e "$repo$extras"
