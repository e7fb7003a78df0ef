#!/usr/bin/env bash
# Written in session 19 for the next session's first call (H100), on branch s20-staged-x-plain:
# the batch-1 mma_staged prologue waiting for the first code stage only (KLAB_CUDA_STAGED_X=plain)
# against the wait for every cp.async group (the default). s19 c6's ncu: 24-30% of the QKV and
# down projections' samples on that wait, launches serialised by ncu. Prediction: standalone
# 12288 x 4096 M = 1 13.26 -> ~12.5 µs, 4096 x 11008 12.22 -> ~11.6; 7B Q4_0 B=1 +0-2% (in the
# step the stages are requested under PDL during the previous kernel and have mostly landed).
# Ran as session 20 c1.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start staged-x
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test
dr_test gemvq test_cuda_gemv_gemv_q_test 300 --gtest_filter='*StagedPlainX*:*GridsOfOneWave*:*Spread*'
KLAB_CUDA_STAGED_X=plain dr_test fused test_cuda_fused_decode_fused_decode_test 300
for x in cp_async plain; do
  KLAB_CUDA_STAGED_X=$x dr_bench "b1-$x" --variant mma_staged_pdl gemv --M 1 \
    --N 12288,4096,4096 --K 4096,11008,4096
done
for i in 1 2; do
  dr_e2e b1-old$i --model llama2-7b --weights q4_0 --batch 1
  KLAB_CUDA_STAGED_X=plain dr_e2e b1-new$i --model llama2-7b --weights q4_0 --batch 1
  dr_e2e q8-b1-old$i --model llama2-7b --weights q8_0 --batch 1
  KLAB_CUDA_STAGED_X=plain dr_e2e q8-b1-new$i --model llama2-7b --weights q8_0 --batch 1
done
KLAB_CUDA_STAGED_X=plain dr_ncu qkv-plain gemv_mma_staged --variant mma_staged_pdl gemv --M 1 \
  --N 12288 --K 4096
dr_finish
