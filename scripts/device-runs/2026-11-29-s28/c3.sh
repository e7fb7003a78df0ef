#!/usr/bin/env bash
# Session 28 c3 (H200): racecheck over the attention tests that s27 c5 never finished, and the
# staged GEMV / fused decode tests on the shared shared-memory opt-in helper.
# Why: issue 4 asks for racecheck clean; s27 c5 ran 597 decode and 360 prefill tests clean but
# cut 5 decode shards and 1 prefill shard at 420 s, four of them inside one long test each
# (ClusterEverySize: 320 cluster launches; TheMostSplitsAPlanHolds; ClusterGraphReplays...;
# ClusterIndicesReadyStillWaitsForQ), so 208 decode and 6 prefill tests were never seen. Those
# three long tests are now parameterized (a cluster size, a head dim, a readiness each), and
# this call runs exactly the unseen tests: one racecheck process a line of c3-decode-filters.txt
# (23 single tests, 9 groups of ~23 MixedLengths cases) and c3-prefill-filters.txt (3 pairs),
# 480 s each, binaries built on the dev machine (attention kernels unchanged since s25).
# Meanwhile (same GPU, correctness only): cuda/common/smem_opt_in.hpp now sets mma_staged's and
# fused_mma's max dynamic shared memory (one helper instead of two): the GEMV q, fused decode and
# CUDA session tests, built here.
# Prediction: 0 hazards; every racecheck process but perhaps a few Sizes/ cases finishes; all
# GEMV / fused / session tests pass.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
S=scripts/device-runs/2026-11-29-s28
mkdir -p /tmp/c3b
for t in attn_decode_decode attn_prefill_prefill; do
  xz -dc "$DR_ROOT/.carry/t_$t.xz" > "/tmp/c3b/$t" && chmod +x "/tmp/c3b/$t"
done
dr_sanitize racecheck decode /tmp/c3b/attn_decode_decode 480 "$S/c3-decode-filters.txt"
dr_sanitize racecheck prefill /tmp/c3b/attn_prefill_prefill 480 "$S/c3-prefill-filters.txt"
dr_build test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_model_cuda_session_test
dr_test_sharded gemv_q test_cuda_gemv_gemv_q_test 8 200
dr_test_sharded fused test_cuda_fused_decode_fused_decode_test 8 150
dr_test session test_cuda_model_cuda_session_test 200 --gtest_filter='-*RealModel*'
dr_pack
wait
dr_sanitize_summary racecheck decode
dr_sanitize_summary racecheck prefill
dr_finish
