#!/usr/bin/env bash
# session 14, call c6 (H100): GemvParams::spread honoured by mma_wide, and the engine passing it
# for the O projection of a wide decode batch (KLAB_CUDA_WIDE_SPREAD=0: off = the code before).
# Why: c5's B=16 timeline has the O GEMV (mma_wide, 256 blocks, launched under PDL during the
# attention's second wave) ending 11.4 us after the attention for 3.1 us of bytes, the pattern
# that spread fixed at batch 1 in session 8 (blocks packed onto the SMs the attention freed first).
# Prediction (written before the run): O 11.4 -> ~8 us a layer; 7B Q4_0 B=16 ctx 512 +2-3%
# (~3,490 -> ~3,570 tok/s); B=1 unchanged (mma_staged path).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c6
dr_build klab_cli test_cuda_gemv_gemv_q_test
dr_test gemvq test_cuda_gemv_gemv_q_test 60 --gtest_filter='*Spread*:*WideDecodeBatches*'
KLAB_CUDA_WIDE_SPREAD=0 dr_e2e b16-off --model llama2-7b --weights q4_0 --batch 16
dr_e2e b16-on --model llama2-7b --weights q4_0 --batch 16
dr_finish
