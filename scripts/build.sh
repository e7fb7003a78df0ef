#!/usr/bin/env bash
# Configures and builds into ${KLAB_BUILD_DIR:-build}. Extra args go to cmake configure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KLAB_BUILD_DIR:-$root/build}"
jobs="${KLAB_JOBS:-$(nproc)}"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$jobs"
