#!/usr/bin/env bash
# session 19, call c2 (H100): c1 narrowed to what measured faster. 8-bit only: SwiGLU of 9..16
# tokens at three blocks an SM (c1: 42.66 -> 40.86 µs), R = 2 kernels bounded for one block an SM
# (c1: 4096 x 4096 10.62 -> 9.38, 4096 x 11008 28.03 -> 24.70); 4 bits as before (c1: swiglu3
# 29.82 -> 34.99, slower; R = 2 one block neutral end to end). A/B in one binary:
# KLAB_CUDA_WIDE_SWIGLU_BLOCKS=2 KLAB_CUDA_WIDE_R2_BLOCKS=2 = before. Prediction: 7B Q8_0 B=16
# +3% (c1's one pair: 3,191.8 -> 3,282.9), 7B Q4_0 B=16 unchanged.
# Probe: the 4-bit down projection on mma_wide at two tiles bounded for one block an SM
# (KLAB_CUDA_WIDE_LONGK=wide KLAB_CUDA_WIDE_R2_BLOCKS=1; c1 standalone 17.51 µs vs split 18.08 in
# s18 c4). Prediction: 7B Q4_0 B=16 +0.5% (down 21.6 -> ~21 µs a layer).
# Also the B=1 rows (the 8x ratio's denominator) and a Q8_0 B=16 timeline of the new code.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c2
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_model_batch_decode_test
dr_test gemvq test_cuda_gemv_gemv_q_test 300 --gtest_filter='*Wide*:*Rejects*'
dr_test fused test_cuda_fused_decode_fused_decode_test 240 --gtest_filter='*Wide*'
dr_test batch test_cuda_model_batch_decode_test 200
old() { KLAB_CUDA_WIDE_SWIGLU_BLOCKS=2 KLAB_CUDA_WIDE_R2_BLOCKS=2 dr_e2e "$@"; }
wide_down() { KLAB_CUDA_WIDE_LONGK=wide KLAB_CUDA_WIDE_R2_BLOCKS=1 dr_e2e "$@"; }
for i in 1 2; do
  old q8-b16-old$i --model llama2-7b --weights q8_0 --batch 16
  dr_e2e q8-b16-new$i --model llama2-7b --weights q8_0 --batch 16
  dr_e2e b16-new$i --model llama2-7b --weights q4_0 --batch 16
  wide_down b16-down-wide$i --model llama2-7b --weights q4_0 --batch 16
done
dr_e2e b1 --model llama2-7b --weights q4_0 --batch 1
dr_e2e q8-b1 --model llama2-7b --weights q8_0 --batch 1
dr_e2e 8b-b16 --model llama3-8b --weights q4_0 --batch 16
timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q8_0 --batch 16 \
  --timeline "$R/tl-q8_0-b16" > "$R/tl-q8_0-b16.txt" 2>&1
echo "timeline: $(grep -hE 'timeline .*a step' "$R/tl-q8_0-b16.txt" | cut -c1-120)"
grep -E "^  " "$R/tl-q8_0-b16.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -10
dr_finish
