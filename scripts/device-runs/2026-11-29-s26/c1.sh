#!/usr/bin/env bash
# Session 26 c1 (H200): mma_staged's symmetric f16 kernels feed the mma the codes with their
# exponent bias (biased_codes.cuh: the half2 subtract / fma of every code pair dropped, the bias
# moved into each sub-chunk's starting accumulator, odd 4-bit columns of x staged / 16), and the
# one-tile symmetric kernels take their ring two chunks a stage (one wait, barrier and commit
# per two chunks). Static SASS a chunk (f16, sm_90a): 4-bit one tile 86.5 -> 65.5, SwiGLU
# 145 -> 117, 8-bit one tile ~47 -> ~41.
# Prediction (µs, old -> new, same call): mma_staged_pdl M=1 4-bit 12288x4096 11.9 -> 9.5-10.3,
# 4096x4096 5.8 -> 4.8-5.2, 4096x11008 11.2 -> 9.0-9.8, SwiGLU 11008x4096 17.0 -> 14.5-15.5;
# 8-bit 12288x4096 ~15.4 -> 13.5-14.5. e2e B=1 ctx 512: 7B Q4_0 ~558 -> 620-660 tok/s, Q8_0 ~430
# -> 450-470, 8B Q4_0 ~512 -> 560-600. Precision: the new test's errors within 1e-4 (f32 out),
# the same order as `mma`'s.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
dr_build_old klab_cli
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test
dr_test precision test_cuda_gemv_gemv_q_test 120 --gtest_filter='*StagedBiased*'
grep -E "^q|mma_staged" "$R/precision.log" | head -60
dr_pack
dr_test_sharded gemv test_cuda_gemv_gemv_q_test 12 150
dr_test_sharded fused test_cuda_fused_decode_fused_decode_test 4 150
dr_test session test_cuda_model_cuda_session_test 150
dr_test batch test_cuda_model_batch_decode_test 150
wait
dr_pack
dr_ab q4 --variant mma_staged_pdl --seconds 0.15 gemv --M 1 --bits 4 --N 12288,4096,4096 \
  --K 4096,4096,11008
dr_ab swiglu --variant mma_staged_pdl --seconds 0.15 gemv --M 1 --bits 4,8 --epilogue swiglu \
  --N 11008 --K 4096
dr_ab q8 --variant mma_staged_pdl --seconds 0.15 gemv --M 1 --bits 8 --N 12288,4096 \
  --K 4096,11008
dr_pack
for i in 1 2; do dr_e2e_ab 7b-q4_0 "-$i" --model llama2-7b --weights q4_0 --batch 1; done
dr_e2e_ab 7b-q8_0 "" --model llama2-7b --weights q8_0 --batch 1
dr_e2e_ab 8b-q4_0 "" --model llama3-8b --weights q4_0 --batch 1
dr_finish
