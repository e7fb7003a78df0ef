#!/usr/bin/env bash
# session 17, call c1 (H100): mma_wide's main loop split into an unpredicated interior (groups of
# 32: every load at an immediate offset from pointers advanced once an iteration) and the
# predicated rest. SASS (this machine's cuobjdump) per 16 x 64 chunk-tile, symmetric 4-bit, 16
# tokens: R = 1 ~146 -> ~97 instructions, R = 3 ~121 -> ~93. A/B in one binary:
# KLAB_CUDA_WIDE_LOOP=indexed sends every chunk through the predicated loop (about the old code).
# Prediction (written before the run): M = 16 4-bit 4096 x 4096 (R = 1) 8.7 -> ~6.0 us, 12288 x
# 4096 (R = 3) 17.7 -> ~14; 7B Q4_0 B=16 ctx 512: QKV -3.5 and O -2.5 us a layer, the step
# -190 us, +4% (3,580 -> ~3,730 tok/s); Q8_0 B=16 (every wide GEMV but down on mma_wide R = 1)
# +6-8%.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_model_batch_decode_test
dr_test gemvq test_cuda_gemv_gemv_q_test 300 --gtest_filter='*Wide*:*Rejects*'
dr_test fused test_cuda_fused_decode_fused_decode_test 240 --gtest_filter='*Wide*'
dr_test batch test_cuda_model_batch_decode_test 200
bench() {  # NAME ARGS...
  local name=$1
  shift
  timeout 120 "$K" bench "$@" --json "$R/gemv-$name.json" > "$R/gemv-$name.txt" 2>&1
  echo "gemv $name rc $? ($((SECONDS - t0))s)"
}
for loop in indexed interior; do
  KLAB_CUDA_WIDE_LOOP=$loop bench "$loop" --variant mma_wide_pdl gemv --M 16 \
    --N 12288,4096,4096 --K 4096,4096,11008
  KLAB_CUDA_WIDE_LOOP=$loop bench "$loop-q8" --variant mma_wide_pdl gemv --bits 8 --M 16 \
    --N 12288,4096,11008 --K 4096,4096,4096
done
grep -hE "gemv_mma_wide|mma_wide_pdl" "$R"/gemv-*.txt | head -30
for i in 1 2; do
  KLAB_CUDA_WIDE_LOOP=indexed dr_e2e b16-indexed$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-interior$i --model llama2-7b --weights q4_0 --batch 16
done
KLAB_CUDA_WIDE_LOOP=indexed dr_e2e q8-b16-indexed --model llama2-7b --weights q8_0 --batch 16
dr_e2e q8-b16-interior --model llama2-7b --weights q8_0 --batch 16
timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 \
  --timeline "$R/tl-b16" > "$R/tl-b16.txt" 2>&1
echo "timeline: $(grep -hE 'timeline .*a step' "$R/tl-b16.txt" | cut -c1-120)"
grep -E "^  " "$R/tl-b16.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -9
dr_finish
