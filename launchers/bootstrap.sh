#!/usr/bin/env bash
# Create .venv in the repository and install tokenswarm into it (editable).
#   bash launchers/bootstrap.sh          # the tool
#   bash launchers/bootstrap.sh --test   # the tool + test dependencies
# On Debian/Ubuntu, python3 -m venv needs the python3-venv package: installed here when
# running as root with apt-get, otherwise the command to run is printed.
# --test also makes a real influxd (Debian's influxdb 1.6.7) available to the test suite: unpacked
# into .venv/influxdb (no service, no system user) when none is on PATH or in TOKENSWARM_INFLUXD.
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

# The InfluxDB integration tests need a real influxd. Unpacking the .deb (rather than apt-get
# install) starts no service listening on :8086 and creates no system user. Debian 13 may lack
# the package: the bookworm suite is then added as an apt source pinned to that one package
# (the binary only needs libc).
install_influxd() {
  local dest="$repo/.venv/influxdb"
  if [[ -n "${TOKENSWARM_INFLUXD:-}" ]] || command -v influxd >/dev/null \
    || [[ -x "$dest/usr/bin/influxd" ]]; then
    return 0
  fi
  if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null; then
    echo "bootstrap: no influxd found, the InfluxDB tests will fail; install it:" \
      "sudo apt-get install influxdb (or set TOKENSWARM_INFLUXD=/path/to/influxd)" >&2
    return 0
  fi
  local how="Debian's influxdb"
  apt-get update -qq >/dev/null
  # (no `apt-cache ... | grep -q` under pipefail: grep's early exit fails the pipe with SIGPIPE)
  local policy
  policy="$(apt-cache policy influxdb 2>/dev/null || true)"
  if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
    how="influxdb from Debian bookworm (pinned to that one package)"
    local keyring="/usr/share/keyrings/debian-archive-keyring.gpg" options=""
    [[ -f "$keyring" ]] && options="[signed-by=$keyring] "
    echo "deb ${options}http://deb.debian.org/debian bookworm main" \
      >/etc/apt/sources.list.d/tokenswarm-influxdb-bookworm.list
    printf '%s\n' "Package: *" "Pin: release n=bookworm" "Pin-Priority: -1" "" \
      "Package: influxdb" "Pin: release n=bookworm" "Pin-Priority: 500" \
      >/etc/apt/preferences.d/tokenswarm-influxdb-bookworm
    apt-get update -qq >/dev/null
  fi
  local tmp
  tmp="$(mktemp -d)"
  if (cd "$tmp" && apt-get download -qq influxdb >/dev/null 2>&1) \
    && dpkg-deb -x "$tmp"/influxdb_*.deb "$dest"; then
    echo "bootstrap: unpacked $how into $dest (influxd for the tests)" >&2
  else
    echo "bootstrap: could not get influxdb with apt-get; the InfluxDB tests will fail" >&2
  fi
  rm -rf "$tmp"
}

# The browser, SSH-launcher and launcher-lint tests need Debian's chromium (headless, driven
# over the DevTools protocol: no browser download), openssh-server (the tests start their own
# sshd on a free port; the package's service is not enabled here) and shellcheck.
install_test_packages() {
  local missing=() pkg
  command -v chromium >/dev/null || missing+=(chromium fonts-dejavu-core)
  [[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
  command -v shellcheck >/dev/null || missing+=(shellcheck)
  ((${#missing[@]})) || return 0
  if [[ "$(id -u)" != "0" ]] || ! command -v apt-get >/dev/null; then
    echo "bootstrap: some tests need: sudo apt-get install ${missing[*]}" >&2
    return 0
  fi
  echo "bootstrap: installing ${missing[*]} with apt-get (for the tests)" >&2
  apt-get update -qq >/dev/null
  # policy-rc.d exit 101: installing openssh-server starts no system sshd on port 22
  local own_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  for pkg in "${missing[@]}"; do
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" \
      >/dev/null || echo "bootstrap: could not install $pkg; its tests will fail" >&2
  done
  [[ -z "$own_policy" ]] || rm -f /usr/sbin/policy-rc.d
}

if [[ -n "$extras" ]]; then
  install_influxd
  install_test_packages
fi
