# shellcheck shell=bash
# Sourced by the launchers: finds a Python that has tokenswarm installed, or says how to get one.
#   PYTHON=/path/to/python   overrides the search (e.g. a venv on a load host)

tokenswarm_python() {
  local repo candidate
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  for candidate in "${PYTHON:-}" "$repo/.venv/bin/python" python3; do
    if [[ -n "$candidate" ]] && "$candidate" -c 'import tokenswarm' 2>/dev/null; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  echo "tokenswarm: error: no Python with tokenswarm installed here (tried" \
    "${PYTHON:+\$PYTHON=$PYTHON, }$repo/.venv/bin/python, python3); run" \
    "launchers/bootstrap.sh or set PYTHON=/path/to/venv/bin/python" >&2
  return 2
}
