#!/usr/bin/env bash
# Session 25 c4 (H200): mma_staged's main loop with cheaper addresses, against c3's code (old
# binary built in the same call). What changed: the loop is unrolled by the ring depth (slot
# addresses are immediates), the code source, x and the scale lines advance by additions
# instead of being rebuilt from j (a group, 32-128 columns, divides W * kChunkCols). Static SASS
# a chunk (f16): 4-bit one tile 89 -> 81.4, 4-bit asymmetric 111 -> 102, 8-bit 56 -> 50, 8-bit
# asymmetric 69 -> 60; SwiGLU (not unrolled: register budget) 4-bit 148 -> 145, asymmetric 200
# -> 189; no spills (64 registers). Why: c3's stream_floor sweep put the one-token GEMV's loss
# on its loop's issue (a chunk of ~87 SASS of IMADs: 11.4 µs at the QKV's 28 MB; the GEMV
# 12.1; the bare stream 7.7; ~0.1 µs per SASS a chunk at this size).
# Prediction (same call, old / new, two rounds): mma_staged_pdl M=1 4-bit 12288x4096 12.1 ->
# ~11.4 µs (-6%), 4096x11008 -5%, 4096x4096 -3%, SwiGLU 11008x4096 -1%; 8-bit -5..-8%. e2e
# B=1 ctx 512: 7B Q4_0 +2..+4%, Q8_0 +3..+5%, 8B Q4_0 +2..+3%. Tests: the GEMV q tests, fused
# decode, CUDA session, batch decode.
# (Rewritten after it ran onto lib.sh's dr_build_old / dr_ab / dr_issue_tables helpers: the
# same commands.)
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c4
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test
dr_build_old klab_cli
dr_test_sharded gemv test_cuda_gemv_gemv_q_test 12 150
dr_test_sharded fused test_cuda_fused_decode_fused_decode_test 4 150
dr_test session test_cuda_model_cuda_session_test 200
dr_test batch test_cuda_model_batch_decode_test 200
wait
dr_pack
dr_ab q4 --variant mma_staged_pdl --seconds 0.15 gemv --M 1 --bits 4 --N 12288,4096,4096 \
  --K 4096,4096,11008
dr_ab q8 --variant mma_staged_pdl --seconds 0.15 gemv --M 1 --bits 8 --N 12288,4096,4096 \
  --K 4096,4096,11008
dr_ab swiglu --variant mma_staged_pdl --seconds 0.15 gemv --M 1 --bits 4,8 --epilogue swiglu \
  --N 11008 --K 4096
dr_pack
for i in 1 2; do
  for side in old new; do
    DR_KLAB=$K
    [ "$side" = old ] && DR_KLAB=$OLD
    dr_e2e "7b-q4_0-$side-$i" --batch 1 --model llama2-7b --weights q4_0
    dr_e2e "7b-q8_0-$side-$i" --batch 1 --model llama2-7b --weights q8_0
    dr_e2e "8b-q4_0-$side-$i" --batch 1 --model llama3-8b --weights q4_0
  done
done
dr_pack
DR_KLAB=$K
dr_e2e_matrices
dr_finish
