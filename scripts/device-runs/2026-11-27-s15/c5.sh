#!/usr/bin/env bash
# session 15, call c5 (H100, the session's last ~3 minutes of device time): compute-sanitizer
# memcheck of the mma_wide_split PDL chains (16 and 11 tokens, N = 4100: cluster splits, a partial
# last block) beside mma_wide's and mma_wide_staged's. Logs straight into $OUT (a timeout keeps
# what was written).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c5
R=$OUT
dr_build test_cuda_gemv_gemv_q_test
timeout 75 compute-sanitizer --tool memcheck --error-exitcode 3 \
  "$B/tests/test_cuda_gemv_gemv_q_test" --gtest_filter='*WidePdlChain*' > "$R/memcheck.log" 2>&1
echo "memcheck rc $? ($((SECONDS - t0))s)"
grep -E "ERROR SUMMARY|PASSED|FAILED" "$R/memcheck.log" | head -5
