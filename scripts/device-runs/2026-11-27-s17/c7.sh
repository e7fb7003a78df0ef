#!/usr/bin/env bash
# session 17, call c7 (H100): 3 row tiles a block at 8 bits too where the row-tile rule's wave
# test holds (c6: M = 16 8-bit 12288 x 4096 R = 3 20.54 us vs R = 1 28.16): the 7B Q8_0 QKV
# projection of a wide batch, which with R = 3 also takes the fused QKV block (mma_wide with the
# QKV epilogue: no qkv_token_split). Tests: fused decode StagedWide* (the default rule now fuses
# Q8_0 at Llama-2-7B's shape), gemv_q row-tile counts and the interior, batch decode. A/B:
# KLAB_CUDA_WIDE_ROWS=1 (one tile a block everywhere = the old 8-bit rule), alternating.
# Prediction (written before the run): Q8_0 B=16 QKV 24.6 + 2.7 (split) -> ~19 us a layer,
# +5-6% (~3,070 -> ~3,240 tok/s); 7B Q4_0 B=16 unchanged (~3,880).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c7
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_model_batch_decode_test
dr_test fused test_cuda_fused_decode_fused_decode_test 120 --gtest_filter='*StagedWide*'
dr_test gemvq test_cuda_gemv_gemv_q_test 200 \
  --gtest_filter='*WideDecodeEveryRowTileCount*:*WideInteriorAndRest*'
dr_test batch test_cuda_model_batch_decode_test 120
for i in 1 2; do
  KLAB_CUDA_WIDE_ROWS=1 dr_e2e q8-b16-r1-$i --model llama2-7b --weights q8_0 --batch 16
  dr_e2e q8-b16-rule$i --model llama2-7b --weights q8_0 --batch 16
done
dr_e2e b16 --model llama2-7b --weights q4_0 --batch 16
dr_finish
