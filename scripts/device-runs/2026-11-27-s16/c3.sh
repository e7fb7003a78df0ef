#!/usr/bin/env bash
# session 16, call c3 (H100): c2's experiment again after its fix. c2 measured the fused wide QKV
# block slower (7B Q4_0 B=16 3,572.9 / 3,520.3 vs 3,561.6 / 3,559.2 tok/s; 8B -2.6%, Q8_0 -2.7%;
# timeline: the QKV GEMV 20.49 us a layer against 16.82 + 2.91 for GEMV + qkv_token_split): each
# warp's epilogue loaded its rows' positions, sequence ids, frequencies and the block table after
# the main loop (two dependent round trips). Now the block stages those inputs in shared memory
# right after the PDL wait, while the weights stream (QkvStagedInputs). Also c2's batch test
# failure (16 prompts of up to 556 tokens in a 512 context: the test's lengths, now mod 450).
# Prediction (written before the run): the QKV GEMV back to ~17.3 us a layer; 7B Q4_0 B=16 +1.5%
# against the chain (3,560 -> ~3,610 tok/s), 8B and Q8_0 B=16 +1%.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
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
