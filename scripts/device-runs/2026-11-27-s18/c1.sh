#!/usr/bin/env bash
# session 18, call c1 (H100): mma_wide's interior takes its codes through a per-warp, two-stage
# cp.async ring in shared memory (each lane copies and later reads its own 16-byte slots), the
# next iteration's codes requested before this one's math. Why: the SASS of the 4-bit one-tile
# kernel (cuobjdump here) had ptxas sinking each code load to just before its use, one 512-byte
# load a warp in flight (~8 KB an SM for the O projection, against ~27 KB that 3 TB/s x ~1.2 us
# asks). A/B in one binary: KLAB_CUDA_WIDE_RING=off = the register loads (the code before).
# Prediction (written before the run): M = 16 4-bit 4096 x 4096 (O) 8.3 -> ~6.0 us, 4096 x 11008
# 19.6 -> ~15, SwiGLU 11008 x 4096 29.7 -> ~25, 12288 x 4096 (R = 3, its loads were already
# together) 13.2 -> ~12.5; 7B Q4_0 B=16 +3% (O -2, gate/up -3 us a layer), Q8_0 B=16 +4%.
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
for ring in off on; do
  export KLAB_CUDA_WIDE_RING=$ring
  bench "ring-$ring" --variant mma_wide_pdl gemv --M 16 --N 12288,4096,4096,32000 \
    --K 4096,4096,11008,4096
  bench "ring-$ring-swiglu" --variant mma_wide_pdl gemv --M 16 --N 11008,14336 --K 4096,4096 \
    --epilogue swiglu
  bench "ring-$ring-q8" --variant mma_wide_pdl gemv --bits 8 --M 16 --N 12288,4096,4096 \
    --K 4096,4096,11008
done
unset KLAB_CUDA_WIDE_RING
bench split --variant mma_wide_split_pdl gemv --M 16 --N 4096,32000 --K 11008,4096
bench split-swiglu --variant mma_wide_split_pdl gemv --M 16 --N 11008,14336 --K 4096,4096 \
  --epilogue swiglu
grep -hE "mma_wide" "$R"/gemv-*.txt | head -40
for i in 1 2; do
  KLAB_CUDA_WIDE_RING=off dr_e2e b16-off$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-on$i --model llama2-7b --weights q4_0 --batch 16
done
KLAB_CUDA_WIDE_RING=off dr_e2e q8-b16-off --model llama2-7b --weights q8_0 --batch 16
dr_e2e q8-b16-on --model llama2-7b --weights q8_0 --batch 16
KLAB_CUDA_WIDE_RING=off dr_e2e 8b-b16-off --model llama3-8b --weights q4_0 --batch 16
dr_e2e 8b-b16-on --model llama3-8b --weights q4_0 --batch 16
KLAB_CUDA_WIDE_LONGK=wide dr_e2e b16-on-longk-wide --model llama2-7b --weights q4_0 --batch 16
dr_e2e b1 --model llama2-7b --weights q4_0 --batch 1
timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 \
  --timeline "$R/tl-b16" > "$R/tl-b16.txt" 2>&1
echo "timeline: $(grep -hE 'timeline .*a step' "$R/tl-b16.txt" | cut -c1-120)"
grep -E "^  " "$R/tl-b16.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -9
dr_finish
