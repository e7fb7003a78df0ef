#!/usr/bin/env bash
# Session 30 c14 (H200): the cached SM count (commit 1660435: cuda/common/device_sm_count.hpp
# serves every GEMV launch rule and the decode plan) on the GPU, through the test binaries it
# reaches, built on the dev machine at 4cea008 and carried: decode attention, fused decode,
# dense and 4-bit / 8-bit GEMV, each in gtest shards (the dp4a test left out: the carry limit);
# then the refactored probe (probe_ptx.cuh, merge_lanes) at S = 4096 / 16384. Prediction,
# written before the run: every test passes (the same SM count as before, queried once); the
# probe's merge3 / merge4 rows within ~0.2 µs of c7 (8.39 / 21.25, 7.63 / 20.33).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c14 commit-n
for t in attn_decode_decode fused_decode_fused_decode gemv_gemv_dense gemv_gemv_q; do
  dr_unxz "n-test_cuda_${t}_test.xz" "$B/tests/test_cuda_${t}_test"
done
dr_test_sharded decode test_cuda_attn_decode_decode_test 8 120
dr_test_sharded fused test_cuda_fused_decode_fused_decode_test 8 150
dr_test_sharded dense test_cuda_gemv_gemv_dense_test 4 120
dr_test_sharded gemv-q test_cuda_gemv_gemv_q_test 12 150
dr_pack
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
timeout 60 /tmp/stream_pattern merge 4096,16384 | tee "$R/stream-pattern.txt"
dr_finish
