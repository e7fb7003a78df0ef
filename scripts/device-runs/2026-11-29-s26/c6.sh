#!/usr/bin/env bash
# Session 26 c6 (H200): compute-sanitizer memcheck and racecheck on the GEMV tests that run
# mma_staged's 4-bit one-tile kernels at M = 1 (the two-chunk ring stages), on c4's build.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c6
dr_build test_cuda_gemv_gemv_q_test
for tool in memcheck racecheck; do
  timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 99 \
    "$B/tests/test_cuda_gemv_gemv_q_test" --gtest_filter='*GgufBlocks*:*SpreadHint*' \
    > "$R/$tool.log" 2>&1
  echo "$tool rc $? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$R/$tool.log" | tr '\n' ' ')" \
    "$(grep -E '^\[  (PASSED|FAILED) ' "$R/$tool.log" | tr '\n' ' ')($((SECONDS - t0))s)"
done
dr_finish
