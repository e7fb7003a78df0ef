#!/usr/bin/env bash
# Prepared in session 22; run as session 23 c1 (H200, cold; ~330 s).
# The bias fold's second form (opt-in variants mma_staged_fold(_pdl), KLAB_CUDA_STAGED_FOLD=1
# for every mma_staged launch; docs/kernels/gemv.md "The bias fold, second form"). s22 c5's
# first form was 16-26% slower; its SASS had lost the loop's 2-chunk unroll and took 95
# instructions a chunk against 89. This form: 81 a chunk (12288 x 4096), 130 against 148 for the
# SwiGLU, by cuobjdump here. Never run on a GPU yet: the tests come first.
# The default SwiGLU kernels' instruction order changed with the fold's code (same instructions,
# cuobjdump): the base rows should match s22 c4 / c5 (12.23-12.24 µs at 12288 x 4096, SwiGLU
# 17.36 µs, 7B Q4_0 B=1 549-553 tok/s).
# Prediction: one-token 4-bit GEMVs 0-6% faster; 7B Q4_0 B=1 end to end -1..+4%. If it is not
# faster, the variants and the switch go (a commit that removes them).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_qkv_qkv_test test_cuda_model_cuda_session_test
dr_test_sharded gemv test_cuda_gemv_gemv_q_test 12 150 &
KLAB_CUDA_STAGED_FOLD=1 dr_test_sharded fused-fold test_cuda_fused_decode_fused_decode_test 4 150 &
KLAB_CUDA_STAGED_FOLD=1 dr_test_sharded qkv-fold test_cuda_qkv_qkv_test 2 150 &
KLAB_CUDA_STAGED_FOLD=1 dr_test_sharded session-fold test_cuda_model_cuda_session_test 2 150 &
wait
dr_pack
for v in mma_staged_pdl mma_staged_fold_pdl; do
  dr_bench m1-$v --variant $v gemv --M 1 --N 12288,4096,4096 --K 4096,4096,11008
  dr_bench swiglu-$v --variant $v gemv --M 1 --N 11008 --K 4096 --epilogue swiglu
done
dr_pack
for i in 1 2; do
  dr_e2e "7b-q4_0-base-$i" --model llama2-7b --weights q4_0 --batch 1
  KLAB_CUDA_STAGED_FOLD=1 dr_e2e "7b-q4_0-fold-$i" --model llama2-7b --weights q4_0 --batch 1
  dr_pack
done
dr_e2e "8b-q4_0-base-1" --model llama3-8b --weights q4_0 --batch 1
KLAB_CUDA_STAGED_FOLD=1 dr_e2e "8b-q4_0-fold-1" --model llama3-8b --weights q4_0 --batch 1
dr_pack
dr_ncu qkv-fold gemv_mma_staged --variant mma_staged_fold_pdl gemv --M 1 --N 12288 --K 4096
dr_finish
