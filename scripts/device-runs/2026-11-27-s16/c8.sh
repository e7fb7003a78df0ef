#!/usr/bin/env bash
# session 16, call c8 (H100): after review, the two QKV-tile store loops (mma_staged's, inputs
# from global memory; mma_wide's, staged inputs) are one (store_qkv_rope_rows, the inputs as a
# callable); ptxas reports the same registers and spills for every kernel. The tests that run
# both: fused decode (every staged QKV case, M <= 8 and wide), batch decode, engine session.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c8
dr_build test_cuda_fused_decode_fused_decode_test test_cuda_model_batch_decode_test \
  test_cuda_model_cuda_session_test
dr_test fused test_cuda_fused_decode_fused_decode_test 240
dr_test batch test_cuda_model_batch_decode_test 200
dr_test session test_cuda_model_cuda_session_test 200
dr_finish
