#!/usr/bin/env bash
# The test command: installs what the tests need, builds (with CUDA when nvcc exists, one
# architecture), and runs the whole suite. GPU tests report SKIPPED on machines without a GPU.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup-deps.sh" --python
export PATH="${KLAB_VENV:-$root/.venv}/bin:$PATH"  # the tests' python3 has the pinned tooling
export KLAB_BUILD_DIR="${KLAB_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh" -DKLAB_BUILD_TESTS=ON
# Tests that need the real default model (tokenizer vs HF, real-weight checks) find it here.
KLAB_MODEL="$("$root/scripts/fetch-model.sh")"
export KLAB_MODEL
cd "$KLAB_BUILD_DIR"
ctest --output-on-failure -j "${KLAB_JOBS:-$(nproc)}" "$@"
