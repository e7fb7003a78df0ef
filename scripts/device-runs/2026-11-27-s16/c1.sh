#!/usr/bin/env bash
# session 16, call c1 (H100): (1) the test refactors session 15 made after its last GPU call
# (gemv_q Wide*, batch_decode, cuda_session) on a GPU; (2) compute-sanitizer memcheck of the
# mma_wide_split tests (not run in session 15); (3) a probe of one hypothesis: mma_staged's
# one-tile-a-block grids leave SMs unevenly loaded (7B gate/up: 688 tiles on 132 SMs = 28 SMs
# with 6 blocks, 104 with 5), and the 1-token GEMV is bound per SM (issue / latency), so its time
# follows the busiest SM's tiles, not the bytes.
# Prediction (written before the run): if the hypothesis holds, SwiGLU K = 4096 at N = 10560
# (660 tiles, 5 an SM) takes ~0.83x of N = 11008 (688 tiles, max 6 an SM), and N = 12672 (792,
# 6 an SM) ~ the time of 12288 (768, max 6); if the bytes rule, 0.96x and 1.03x.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_model_batch_decode_test \
  test_cuda_model_cuda_session_test
dr_test gemvq-wide test_cuda_gemv_gemv_q_test 200 --gtest_filter='*Wide*'
dr_test batch test_cuda_model_batch_decode_test 200
dr_test session test_cuda_model_cuda_session_test 200
timeout 240 compute-sanitizer --tool memcheck --error-exitcode 3 \
  "$B/tests/test_cuda_gemv_gemv_q_test" --gtest_filter='*WidePdlChain*:*WideSplitEverySplit*' \
  > "$R/memcheck-split.log" 2>&1
echo "memcheck rc $? $(grep -E 'ERROR SUMMARY|PASSED|FAILED' "$R/memcheck-split.log" | tr '\n' ' ')"
for bits in 4 8; do
  for ep in swiglu none; do
    timeout 60 "$K" bench --variant mma_staged_pdl --no-validate --seconds 0.15 gemv --bits $bits \
      --epilogue $ep --N 8448,10560,11008,12288,12672 --K 4096 \
      --json "$R/imbalance-$bits-$ep.json" > "$R/imbalance-$bits-$ep.txt" 2>&1
    grep -hE "^gemv " "$R/imbalance-$bits-$ep.txt"
  done
done
dr_finish
