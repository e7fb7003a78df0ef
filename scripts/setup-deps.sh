#!/usr/bin/env bash
# Installs the build dependencies from Debian's packages (when missing) and, with --python,
# the pinned Python tooling used by tests. Safe to run repeatedly.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

pkgs=(cmake g++ make libgtest-dev nlohmann-json3-dev libcli11-dev libfmt-dev unzip python3-pip bible-kjv fortunes)
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
  python3 -m pip install -q --disable-pip-version-check -r "$here/requirements-test.txt" 2>&1 |
    grep -v "Running pip as the 'root' user" || true
fi
