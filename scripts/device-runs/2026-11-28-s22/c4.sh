#!/usr/bin/env bash
# Session 22 call 4 (H200, cold; the session's last ~480 s of device time). c1's SASS of the
# one-token QKV GEMV (mma_staged, 4-bit, f16): 123 warp instructions a 512-byte chunk, 89 of
# them in the loop; per SM that is ~6 µs of issue at 4 schedulers against ~6.8 µs of memory
# time, so the loop's instruction count matters. Change (this commit, the bias fold, described
# in mma_staged.cuh): the 4-bit pairs go to the mma as LOP3 output (1024 + q / 1024 + 16 q), the
# HSUB2 / HFMA2 a pair cost (16 a chunk) leave the loop, the odd x slots are staged / 16 and the
# mma's C starts at -corr (one shared 8-byte load a sub-chunk). KLAB_CUDA_STAGED_FOLD=0 is the
# old decode in the same binary (the A/B below, alternating).
# Prediction: loop 89 -> ~77 instructions a chunk (-13%, total -10%); one-token 4-bit GEMVs
# 3-7% faster (partly latency-bound, so less than the instruction cut); 7B Q4_0 B=1 +2..+5%;
# 8B Q4_0 similar. Q8_0 / F16 / bf16 untouched.
# Tests first (sharded, side by side: the references run on the CPU), then the A/B; results are
# packed after each part, so a call cut by its limit still returns what ran.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c4
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_qkv_qkv_test test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test
shards() {  # BINARY N: N gtest shards at once, one log each; prints a line per binary
  local bin=$1 n=$2 i
  for ((i = 0; i < n; i++)); do
    GTEST_TOTAL_SHARDS=$n GTEST_SHARD_INDEX=$i timeout 200 "$B/tests/$bin" \
      > "$R/test-$bin.$i.log" 2>&1 &
  done
  wait
  echo "$bin: $(cat "$R"/test-"$bin".*.log | grep -cE '^\[       OK \]') ok," \
    "$(cat "$R"/test-"$bin".*.log | grep -cE '^\[  FAILED  \].*\(') failed ($((SECONDS - t0))s)"
  grep -hE "^\[  FAILED  \].*\(|Failure$|exception" "$R"/test-"$bin".*.log | head -6
}
shards test_cuda_gemv_gemv_q_test 12 &
shards test_cuda_fused_decode_fused_decode_test 4 &
shards test_cuda_qkv_qkv_test 2 &
wait
shards test_cuda_model_cuda_session_test 2 &
shards test_cuda_model_batch_decode_test 2 &
wait
dr_finish > /dev/null
for mode in 1 0; do
  KLAB_CUDA_STAGED_FOLD=$mode dr_bench m1-fold$mode --variant mma_staged_pdl gemv --M 1 \
    --N 12288,4096,4096 --K 4096,4096,11008
  KLAB_CUDA_STAGED_FOLD=$mode dr_bench m1-swiglu-fold$mode --variant mma_staged_pdl gemv --M 1 \
    --N 11008 --K 4096 --epilogue swiglu
done
dr_finish > /dev/null
for i in 1 2; do
  dr_e2e "7b-q4_0-fold-$i" --model llama2-7b --weights q4_0 --batch 1
  KLAB_CUDA_STAGED_FOLD=0 dr_e2e "7b-q4_0-nofold-$i" --model llama2-7b --weights q4_0 --batch 1
  dr_finish > /dev/null
done
dr_e2e "8b-q4_0-fold-1" --model llama3-8b --weights q4_0 --batch 1
KLAB_CUDA_STAGED_FOLD=0 dr_e2e "8b-q4_0-nofold-1" --model llama3-8b --weights q4_0 --batch 1
dr_finish
