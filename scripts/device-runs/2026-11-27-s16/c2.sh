#!/usr/bin/env bash
# session 16, call c2 (H100): the QKV block of a wide decode batch fused (staged -> mma_wide with
# the QKV epilogue per n-tile of 8 tokens, on the norm kernel's rows): no qkv_token_split launch
# and no qkv rows at 9..32 sequences. Tests (fused decode, batch decode, engine session), memcheck
# of the new fused test, then B=16 end to end against KLAB_CUDA_WIDE_QKV=chain (the code before),
# alternating, and a B=16 timeline.
# Prediction (written before the run): session 14's B=16 timeline has qkv_token_split at 2.91 us a
# layer of advance; the epilogue adds ~0.3 us to the QKV GEMV: 7B Q4_0 B=16 ctx 512 -2.5 us a
# layer, 4.50 -> ~4.42 ms a step, +1.8% (3,555 -> ~3,620 tok/s); Llama-3-8B Q4_0 and 7B Q8_0 B=16
# +1-2%; B=1 unchanged (not run).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c2
dr_build klab_cli test_cuda_fused_decode_fused_decode_test test_cuda_model_batch_decode_test \
  test_cuda_model_cuda_session_test
dr_test fused test_cuda_fused_decode_fused_decode_test 240
dr_test batch test_cuda_model_batch_decode_test 200
dr_test session test_cuda_model_cuda_session_test 200
timeout 200 compute-sanitizer --tool memcheck --error-exitcode 3 \
  "$B/tests/test_cuda_fused_decode_fused_decode_test" --gtest_filter='*StagedWideQkv*' \
  > "$R/memcheck-wide-qkv.log" 2>&1
echo "memcheck rc $? $(grep -E 'ERROR SUMMARY|PASSED|FAILED' "$R/memcheck-wide-qkv.log" | tr '\n' ' ')"
for i in 1 2; do
  KLAB_CUDA_WIDE_QKV=chain dr_e2e b16-chain$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-fused$i --model llama2-7b --weights q4_0 --batch 16
done
KLAB_CUDA_WIDE_QKV=chain dr_e2e 8b-b16-chain --model llama3-8b --weights q4_0 --batch 16
dr_e2e 8b-b16-fused --model llama3-8b --weights q4_0 --batch 16
KLAB_CUDA_WIDE_QKV=chain dr_e2e q8-b16-chain --model llama2-7b --weights q8_0 --batch 16
dr_e2e q8-b16-fused --model llama2-7b --weights q8_0 --batch 16
timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 \
  --timeline "$R/tl-b16" > "$R/tl-b16.txt" 2>&1
echo "timeline: $(grep -hE 'timeline .*a step' "$R/tl-b16.txt" | cut -c1-120)"
grep -E "^  " "$R/tl-b16.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -9
dr_finish
