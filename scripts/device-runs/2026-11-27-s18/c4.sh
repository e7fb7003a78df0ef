#!/usr/bin/env bash
# session 18, call c4 (H100): two row tiles a block for mma_wide where that makes at most one
# block an SM (N = 4096 on 132 SMs: O, and the 8-bit down projection; the 4-bit down stays on
# mma_wide_split). c3: 4-bit 4096 x 4096 R = 1 / 2: 8.28 / 8.05 us, 4096 x 11008 19.52 / 18.39;
# 8-bit (s17 c6) 10.91 / 10.58 and 29.57 / 27.94. A/B in one binary: KLAB_CUDA_WIDE_TWO_TILES=off
# = the rule before. Prediction: 7B Q4_0 B=16 +0.2% (O -0.25 us a layer, within run-to-run
# noise), Q8_0 B=16 +1-1.5% (O -0.3, down -1.6 us a layer), Llama-3-8B Q4_0 B=16 +0.2%. Also
# three runs of 7B F16 B=1 (unchanged code since session 13: the spread around issue 8's 88%).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c4
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
for two in off on; do
  export KLAB_CUDA_WIDE_TWO_TILES=$two
  bench "two-$two" --variant mma_wide_pdl gemv --M 16 --N 4096,4096 --K 4096,11008
  bench "two-$two-q8" --variant mma_wide_pdl gemv --bits 8 --M 16 --N 4096,4096 --K 4096,11008
done
unset KLAB_CUDA_WIDE_TWO_TILES
grep -hE "^gemv " "$R"/gemv-*.txt | cut -c1-110
for i in 1 2; do
  KLAB_CUDA_WIDE_TWO_TILES=off dr_e2e b16-off$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-on$i --model llama2-7b --weights q4_0 --batch 16
  KLAB_CUDA_WIDE_TWO_TILES=off dr_e2e q8-b16-off$i --model llama2-7b --weights q8_0 --batch 16
  dr_e2e q8-b16-on$i --model llama2-7b --weights q8_0 --batch 16
done
KLAB_CUDA_WIDE_TWO_TILES=off dr_e2e 8b-b16-off --model llama3-8b --weights q4_0 --batch 16
dr_e2e 8b-b16-on --model llama3-8b --weights q4_0 --batch 16
dr_e2e b1 --model llama2-7b --weights q4_0 --batch 1
for i in 1 2 3; do dr_e2e f16-b1-$i --model llama2-7b --weights f16 --batch 1; done
dr_finish
