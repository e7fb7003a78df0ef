#!/usr/bin/env bash
# session 17, call c3 (H100): `auto` gives the 4-bit SwiGLU GEMV of a wide batch back to mma_wide
# (c2, M = 16, 11008 x 4096: mma_wide 29.7 us with c1's interior loop vs mma_wide_split 35.9);
# KLAB_CUDA_WIDE_SWIGLU=split keeps the old rule for the A/B. Tests: gemv_q Wide* (with the new
# auto pick), fused decode and batch decode.
# Prediction (written before the run): gate/up in the B=16 step 34.2 -> ~28 us a layer, 7B Q4_0
# B=16 ctx 512 +4.5% (~3,610 -> ~3,770 tok/s), Llama-3-8B Q4_0 B=16 +4%; B=1 unchanged.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_model_batch_decode_test
dr_test gemvq test_cuda_gemv_gemv_q_test 300 --gtest_filter='*Wide*:*Swiglu*'
dr_test batch test_cuda_model_batch_decode_test 200
for i in 1 2; do
  KLAB_CUDA_WIDE_SWIGLU=split dr_e2e b16-split$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-wide$i --model llama2-7b --weights q4_0 --batch 16
done
KLAB_CUDA_WIDE_SWIGLU=split dr_e2e 8b-b16-split --model llama3-8b --weights q4_0 --batch 16
dr_e2e 8b-b16-wide --model llama3-8b --weights q4_0 --batch 16
dr_e2e b1 --model llama2-7b --weights q4_0 --batch 1
timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 \
  --timeline "$R/tl-b16" > "$R/tl-b16.txt" 2>&1
echo "timeline: $(grep -hE 'timeline .*a step' "$R/tl-b16.txt" | cut -c1-120)"
grep -E "^  " "$R/tl-b16.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -9
dr_finish
