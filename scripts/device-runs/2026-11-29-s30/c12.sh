#!/usr/bin/env bash
# Session 30 c12 (H200): the push merge's correctness beyond c8's decode tests (823 / 823). Binaries built on the dev machine from commit 4c71954 and carried: the
# fused decode and CUDA session tests (the engine's greedy tokens against the unfused path and
# the CPU), racecheck and memcheck on c12-filters.txt (s29 c8's cluster cases plus each cluster
# variant's mixed-length cases at d64 / d128 paged16 / d256). Prediction, written before the run:
# every test passes, 0 hazards, 0 errors (the remote stores land in an area nothing else uses,
# before the barrier that publishes them).
set -uo pipefail
. scripts/device-runs/lib.sh
DR_NAME=c12
R=/tmp/c12 && rm -rf "$R" && mkdir -p "$R"
t0=$SECONDS
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export KLAB_GIT_COMMIT
KLAB_GIT_COMMIT=$(cat .carry/commit-new)
nvidia-smi --query-gpu=name --format=csv,noheader
B=/tmp/c12-build && mkdir -p "$B/tests"
for t in test_cuda_fused_decode_fused_decode_test test_cuda_model_cuda_session_test; do
  xz -dc ".carry/$t.xz" > "$B/tests/$t" && chmod +x "$B/tests/$t"
done
xz -dc .carry/t_decode-new.xz > /tmp/t_decode && chmod +x /tmp/t_decode
dr_test fused test_cuda_fused_decode_fused_decode_test 150
dr_test session test_cuda_model_cuda_session_test 150
dr_pack
f=scripts/device-runs/2026-11-29-s30/c12-filters.txt
dr_sanitize racecheck decode /tmp/t_decode 200 "$f"
dr_sanitize memcheck decode /tmp/t_decode 200 "$f"
wait
dr_sanitize_summary racecheck decode
dr_sanitize_summary memcheck decode
dr_finish
