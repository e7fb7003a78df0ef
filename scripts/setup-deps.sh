#!/usr/bin/env bash
# Installs the build dependencies from Debian's packages (when missing) and, with --python,
# the pinned Python tooling used by tests. Safe to run repeatedly.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

pkgs=(cmake g++ make libgtest-dev nlohmann-json3-dev libcli11-dev libfmt-dev unzip python3-pip python3-venv bible-kjv fortunes)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ "${1:-}" == "--python" ]]; then
  # A virtual environment keeps the pinned test tooling away from the system Python (Debian 12
  # refuses `pip install` into it: PEP 668). scripts/test.sh puts its bin/ first on PATH.
  venv="${KLAB_VENV:-$here/../.venv}"
  [ -x "$venv/bin/python3" ] || python3 -m venv "$venv"
  "$venv/bin/python3" -m pip install -q --disable-pip-version-check -r "$here/requirements-test.txt"
fi
