#!/usr/bin/env bash
# session 17, call c5 (H100): the SASS of the one-tile mma_wide kernels showed ptxas issuing the
# interior's code loads one at a time just before their math (1 of 4 before the PDL wait), so
# every chunk waited a DRAM latency (ncu c2: long scoreboard, O GEMV). New: the interior asks the
# L2 for the next iteration's codes (and, on the first, its own) with prefetch.global.L2, under
# KLAB_CUDA_WIDE_PREFETCH=1 (off by default until measured). With the prefetch branch in the
# loop ptxas now also issues the 4 loads together (SASS), in both settings.
# Prediction (written before the run): M = 16 4-bit 4096 x 4096 (one tile a block) 8.3 -> ~7.3 us
# with the prefetch; 8-bit shapes -5-10%; 12288 x 4096 (R = 3, loads already together) +-2%;
# 7B Q4_0 B=16 +1% (O), Q8_0 B=16 +3-5%.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c5
dr_build klab_cli test_cuda_gemv_gemv_q_test
dr_test gemvq test_cuda_gemv_gemv_q_test 200 \
  --gtest_filter='*WideInteriorAndRest*:*WideDecodeBatches*:*WideSplitDecodeShapes*'
bench() {  # NAME ARGS...
  local name=$1
  shift
  timeout 60 "$K" bench "$@" --json "$R/gemv-$name.json" > "$R/gemv-$name.txt" 2>&1
}
for pf in 0 1; do
  KLAB_CUDA_WIDE_PREFETCH=$pf bench "pf$pf" --variant mma_wide_pdl gemv --M 16 \
    --N 4096,12288 --K 4096,4096
  KLAB_CUDA_WIDE_PREFETCH=$pf bench "pf$pf-swiglu" --variant mma_wide_pdl gemv --M 16 \
    --N 11008 --K 4096 --epilogue swiglu
  KLAB_CUDA_WIDE_PREFETCH=$pf bench "pf$pf-q8" --variant mma_wide_pdl gemv --bits 8 --M 16 \
    --N 12288,4096,4096 --K 4096,4096,11008
done
grep -hE "^gemv " "$R"/gemv-pf*.txt
for i in 1 2; do
  KLAB_CUDA_WIDE_PREFETCH=0 dr_e2e b16-pf0-$i --model llama2-7b --weights q4_0 --batch 16
  KLAB_CUDA_WIDE_PREFETCH=1 dr_e2e b16-pf1-$i --model llama2-7b --weights q4_0 --batch 16
done
KLAB_CUDA_WIDE_PREFETCH=0 dr_e2e q8-b16-pf0 --model llama2-7b --weights q8_0 --batch 16
KLAB_CUDA_WIDE_PREFETCH=1 dr_e2e q8-b16-pf1 --model llama2-7b --weights q8_0 --batch 16
dr_finish
