#!/usr/bin/env bash
# session 16, call c6 (H100): the wide QKV epilogue's inputs copied with cp.async right after the
# PDL wait (no thread waits for them there; c3/c4's version stalled warps 0-1 on a blocking copy
# at every block's start, the likely reason why one-tile blocks lost 2-3%), the block-table
# lookup left to the epilogue. Tests (fused decode, batch decode, engine session), memcheck and
# racecheck of the fused test; then B=16 end to end: the one-tile-a-block shapes with the fused
# block forced (KLAB_CUDA_WIDE_QKV=fused) against the chain, and 7B Q4_0 (the rule's fused block)
# against the chain, alternating.
# Prediction (written before the run): Llama-3-8B Q4_0 B=16 and 7B Q8_0 B=16 +1% fused over chain
# (c3: -2.7%, -1.9%), 7B Q4_0 B=16 +1.7% as in c4.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c6
dr_build klab_cli test_cuda_fused_decode_fused_decode_test test_cuda_model_batch_decode_test \
  test_cuda_model_cuda_session_test
dr_test fused test_cuda_fused_decode_fused_decode_test 240
dr_test batch test_cuda_model_batch_decode_test 200
dr_test session test_cuda_model_cuda_session_test 200
for tool in memcheck racecheck; do
  timeout 200 compute-sanitizer --tool $tool --error-exitcode 3 \
    "$B/tests/test_cuda_fused_decode_fused_decode_test" --gtest_filter='*StagedWideQkv*' \
    > "$R/$tool-wide-qkv.log" 2>&1
  echo "$tool rc $? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|PASSED|FAILED' "$R/$tool-wide-qkv.log" | tr '\n' ' ')"
done
for i in 1 2; do
  KLAB_CUDA_WIDE_QKV=chain dr_e2e 8b-chain$i --model llama3-8b --weights q4_0 --batch 16
  KLAB_CUDA_WIDE_QKV=fused dr_e2e 8b-fused$i --model llama3-8b --weights q4_0 --batch 16
  KLAB_CUDA_WIDE_QKV=chain dr_e2e q8-chain$i --model llama2-7b --weights q8_0 --batch 16
  KLAB_CUDA_WIDE_QKV=fused dr_e2e q8-fused$i --model llama2-7b --weights q8_0 --batch 16
done
KLAB_CUDA_WIDE_QKV=chain dr_e2e b16-chain --model llama2-7b --weights q4_0 --batch 16
dr_e2e b16-auto --model llama2-7b --weights q4_0 --batch 16
dr_finish
