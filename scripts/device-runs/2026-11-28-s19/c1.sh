#!/usr/bin/env bash
# session 19, call c1 (H100): occupancy of the batch-16 GEMVs that wait on their code loads
# (session 18's ncu: one-tile kernels stall on the first use of each iteration's codes).
# (a) SwiGLU of 9..16 tokens on a three-blocks-an-SM kernel (80 registers, 2 chunks an
#     iteration; it spills ~200 bytes at 4 bits) instead of two (127 registers, 4 chunks):
#     688 blocks at 11008 rows = 1.74 waves instead of 2.6, 6 warps a scheduler instead of 4.
#     A/B: KLAB_CUDA_WIDE_SWIGLU_BLOCKS=2 = before.
# (b) the R = 2 kernels (O at N = 4096, 8-bit down), which run one block an SM by the rule, bounded
#     for one block: ptxas then issues an iteration's 8 code loads together (194 registers)
#     instead of two halves of 4, each waited for. A/B: KLAB_CUDA_WIDE_R2_BLOCKS=2 = before.
# Predictions (M = 16, µs): SwiGLU 11008 x 4096 29.8 -> ~25.5, 14336 x 4096 37.4 -> ~31 (split
# 34.3), 8-bit 11008 42.5 -> ~37; O 4096 x 4096 8.0 -> ~6.8, 8-bit 4096 x 11008 28.0 -> ~25.
# End to end 7B Q4_0 B=16: gate/up 26.4 -> ~22.6 µs a layer, O 9.7 -> ~8.5: +3.9%
# (3,900 -> ~4,050 tok/s); Q8_0 B=16 +3-4%; Llama-3-8B Q4_0 B=16 (SwiGLU on split) +0.5%.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
dr_build klab_cli test_cuda_gemv_gemv_q_test
dr_test gemvq test_cuda_gemv_gemv_q_test 300 \
  --gtest_filter='*WideSwigluBlocksAnSm*:*WideTwoTilesBothBounds*:*WideDecodeEveryRowTileCount*:*WideInteriorAndRest*:*Wide*Shapes*'
for mode in old new; do
  if [ $mode = old ]; then export KLAB_CUDA_WIDE_SWIGLU_BLOCKS=2 KLAB_CUDA_WIDE_R2_BLOCKS=2
  else unset KLAB_CUDA_WIDE_SWIGLU_BLOCKS KLAB_CUDA_WIDE_R2_BLOCKS; fi
  dr_bench "swiglu-$mode" --variant mma_wide_pdl gemv --M 16 --N 11008,14336 --K 4096,4096 \
    --epilogue swiglu
  dr_bench "swiglu-q8-$mode" --variant mma_wide_pdl gemv --bits 8 --M 16 --N 11008 --K 4096 \
    --epilogue swiglu
  dr_bench "r2-$mode" --variant mma_wide_pdl gemv --M 16 --N 4096,4096 --K 4096,11008
  dr_bench "r2-q8-$mode" --variant mma_wide_pdl gemv --bits 8 --M 16 --N 4096,4096 --K 4096,11008
done
unset KLAB_CUDA_WIDE_SWIGLU_BLOCKS KLAB_CUDA_WIDE_R2_BLOCKS
old() { KLAB_CUDA_WIDE_SWIGLU_BLOCKS=2 KLAB_CUDA_WIDE_R2_BLOCKS=2 dr_e2e "$@"; }
for i in 1 2; do
  old b16-old$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-new$i --model llama2-7b --weights q4_0 --batch 16
done
KLAB_CUDA_WIDE_R2_BLOCKS=2 dr_e2e b16-swiglu3-only --model llama2-7b --weights q4_0 --batch 16
KLAB_CUDA_WIDE_SWIGLU_BLOCKS=2 dr_e2e b16-r2-only --model llama2-7b --weights q4_0 --batch 16
old q8-b16-old --model llama2-7b --weights q8_0 --batch 16
dr_e2e q8-b16-new --model llama2-7b --weights q8_0 --batch 16
old 8b-b16-old --model llama3-8b --weights q4_0 --batch 16
dr_e2e 8b-b16-new --model llama3-8b --weights q4_0 --batch 16
KLAB_CUDA_WIDE_SWIGLU=wide dr_e2e 8b-b16-new-swiglu-wide --model llama3-8b --weights q4_0 --batch 16
timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 \
  --timeline "$R/tl-q4_0-b16" > "$R/tl-q4_0-b16.txt" 2>&1
echo "timeline: $(grep -hE 'timeline .*a step' "$R/tl-q4_0-b16.txt" | cut -c1-120)"
grep -E "^  " "$R/tl-q4_0-b16.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -10
dr_finish
