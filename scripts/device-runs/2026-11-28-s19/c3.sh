#!/usr/bin/env bash
# session 19, call c3 (H100), the final rule: R = 2 kernels bounded for one block an SM at 4 and 8
# bits, the 4-bit down projection on mma_wide where it takes two tiles a block (N = 4096), the
# 8-bit SwiGLU at three blocks an SM. A/B in one binary against the rules before:
# KLAB_CUDA_WIDE_LONGK=split KLAB_CUDA_WIDE_R2_BLOCKS=2 KLAB_CUDA_WIDE_SWIGLU_BLOCKS=2.
# Prediction: 7B Q4_0 B=16 +0.9% (c2: 3,894.5 / 3,912.8 -> 3,953.4 / 3,924.0), Llama-3-8B Q4_0
# B=16 (down K = 14336, not measured on mma_wide) -1..+1%, 7B Q8_0 B=16 +2.8% (c2).
# Also: memcheck of the new tests, the B=1 denominators, the final 7B Q4_0 B=16 timeline.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_model_batch_decode_test
dr_test gemvq test_cuda_gemv_gemv_q_test 300 --gtest_filter='*Wide*:*Rejects*'
dr_test fused test_cuda_fused_decode_fused_decode_test 240 --gtest_filter='*Wide*'
dr_test batch test_cuda_model_batch_decode_test 200
timeout 200 compute-sanitizer --tool memcheck --error-exitcode 3 \
  "$B/tests/test_cuda_gemv_gemv_q_test" \
  --gtest_filter='GemvQ.WideSwigluBlocksAnSm:GemvQ.WideTwoTilesBothBounds' > "$R/memcheck.log" 2>&1
echo "memcheck rc $? $(grep -E 'ERROR SUMMARY|PASSED|FAILED' "$R/memcheck.log" | tr '\n' ' ')"
old() {
  KLAB_CUDA_WIDE_LONGK=split KLAB_CUDA_WIDE_R2_BLOCKS=2 KLAB_CUDA_WIDE_SWIGLU_BLOCKS=2 dr_e2e "$@"
}
for i in 1 2; do
  old b16-old$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-new$i --model llama2-7b --weights q4_0 --batch 16
  old 8b-b16-old$i --model llama3-8b --weights q4_0 --batch 16
  dr_e2e 8b-b16-new$i --model llama3-8b --weights q4_0 --batch 16
done
old q8-b16-old --model llama2-7b --weights q8_0 --batch 16
dr_e2e q8-b16-new --model llama2-7b --weights q8_0 --batch 16
for i in 1 2; do dr_e2e b1-$i --model llama2-7b --weights q4_0 --batch 1; done
timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 \
  --timeline "$R/tl-q4_0-b16" > "$R/tl-q4_0-b16.txt" 2>&1
echo "timeline: $(grep -hE 'timeline .*a step' "$R/tl-q4_0-b16.txt" | cut -c1-120)"
grep -E "^  " "$R/tl-q4_0-b16.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -10
dr_finish
