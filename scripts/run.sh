#!/usr/bin/env bash
# The main command: installs, builds, fetches the default model and generates text
# (on the GPU when there is one, else on the CPU). Extra args go to `klab generate`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup-deps.sh"
export KLAB_BUILD_DIR="${KLAB_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh" -DKLAB_BUILD_TESTS=OFF >/dev/null
"$root/scripts/fetch-model.sh" >/dev/null
if [ $# -eq 0 ]; then
  set -- -p "The capital of France is" -n 64
fi
exec "$KLAB_BUILD_DIR/bin/klab" generate "$@"
