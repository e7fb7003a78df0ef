#!/usr/bin/env bash
# Session 22 call 5 (H200, the last ~180 s of device time). c4: the bias fold faulted
# (cudaErrorIllegalAddress in every f16 4-bit mma_staged launch): the host's shared-memory size
# (shape_of's base) left out the new corr region, so the rings ran past the allocation. Fixed in
# this commit. This call: the GEMV test binary only (12 shards) and, if time is left, the A/B of
# c4 (same prediction: one-token 4-bit GEMVs 3-7% faster, 7B Q4_0 B=1 +2..+5%).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c5
dr_build klab_cli test_cuda_gemv_gemv_q_test
for i in $(seq 0 11); do
  GTEST_TOTAL_SHARDS=12 GTEST_SHARD_INDEX=$i timeout 100 "$B/tests/test_cuda_gemv_gemv_q_test" \
    > "$R/test-gemv.$i.log" 2>&1 &
done
wait
echo "gemv: $(cat "$R"/test-gemv.*.log | grep -cE '^\[       OK \]') ok," \
  "$(cat "$R"/test-gemv.*.log | grep -cE '^\[  FAILED  \].*\(') failed ($((SECONDS - t0))s)"
grep -hE "^\[  FAILED  \].*\(|Failure$|exception" "$R"/test-gemv.*.log | head -6
dr_finish > /dev/null
for mode in 1 0; do
  KLAB_CUDA_STAGED_FOLD=$mode dr_bench m1-fold$mode --variant mma_staged_pdl gemv --M 1 \
    --N 12288,4096,4096 --K 4096,4096,11008
done
dr_finish > /dev/null
dr_e2e "7b-q4_0-fold-1" --model llama2-7b --weights q4_0 --batch 1
KLAB_CUDA_STAGED_FOLD=0 dr_e2e "7b-q4_0-nofold-1" --model llama2-7b --weights q4_0 --batch 1
dr_finish
