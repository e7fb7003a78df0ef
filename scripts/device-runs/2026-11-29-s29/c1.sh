#!/usr/bin/env bash
# Session 29 c1 (H200). Predictions written before the run.
# 1. Cluster decode attention, speculative prologue: with indices_ready the guessed range's
#    table reads (rows_of for the prologue's tiles) now go out before the PDL wait; only the
#    copies wait for the kernel before. s24-s25 put the paged penalty at B=1 S=4096 (+7.4..+10.1%,
#    ~0.9 µs) on the table -> copy latency. Prediction (bench, old / new, two rounds):
#    `_spec` paged16 B=1 S=4096 10.2 -> 9.5-10.0 µs (back-to-back launches: clusters that start
#    only when the previous launch's CTAs leave gain nothing, so maybe less), contiguous within
#    ±1.5% (rows_of is arithmetic there), paged16 S=16384 -0..-3%, B=8..32 paged -0..-2%.
# 2. Dense one-token QKV epilogue kernel at 2 rows a warp where 4 leave < 4 blocks an SM
#    (Llama-3-8B: 384 -> 768 blocks; Llama-2-7B keeps 4 rows, 768 blocks). Tests here; the
#    end-to-end A/B is c2 (warm, same build dirs).
# Then: decode / fused decode / dense GEMV / session tests on the new code.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
dr_build_old klab_cli
dr_build klab_cli test_cuda_attn_decode_decode_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_gemv_gemv_dense_test test_cuda_model_cuda_session_test
dr_test fused test_cuda_fused_decode_fused_decode_test 240 > "$R/fused.sum" &
dr_test dense test_cuda_gemv_gemv_dense_test 240 > "$R/dense.sum" &
dr_test session test_cuda_model_cuda_session_test 240 --gtest_filter='-*RealModel*' > "$R/session.sum" &
dr_test_sharded attn test_cuda_attn_decode_decode_test 8 240
wait
cat "$R"/fused.sum "$R"/dense.sum "$R"/session.sum
dr_pack
dr_ab spec-b1 --variant split_kv_mma_cluster_spec --seconds 0.15 decode-attn \
  --batch 1 --len 4096,16384 --layout contiguous,paged
dr_ab spec-b8 --variant split_kv_mma_cluster_spec --seconds 0.15 decode-attn \
  --batch 8,16,32 --len 4096 --layout paged
dr_ab s2-b1 --variant split_kv_mma_cluster_s2 --seconds 0.15 decode-attn \
  --batch 1 --len 4096 --layout contiguous,paged
dr_finish
