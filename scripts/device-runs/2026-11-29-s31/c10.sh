#!/usr/bin/env bash
# Session 31 c10 (H200): the 8-warp CTA in clusters of 8 (commit b612865, carried) against the
# tree before it (the study build of c4-c9 with the study off: the same kernels, fit_cluster's
# sizes), alternating, two rounds; then the decode-attention tests on b612865.
# Predictions, written before the run: `_spec` B=1 contiguous S=16384 22.6-22.9 µs (old 23.8 or
# 26.9 by card), S=8192 ~13.5 (14.6), S=32768 37.4-37.8 (39.0), S=4096 within 0.2; paged16 alike
# ~-0.8 µs at S>=8192; `_w8` the same gains; B=2..8 unchanged (their clusters are <= 8 already);
# every decode test passes.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c10 commit-new
dr_unxz klab-study.xz /tmp/klab-old
dr_unxz klab-new.xz /tmp/klab-new
dr_unxz t_decode-new.xz "$B/tests/test_cuda_attn_decode_decode_test"
nvidia-smi --query-gpu=name,uuid --format=csv,noheader | tee "$R/gpu.txt"
export DR_AB_SIDES="old:/tmp/klab-old new:/tmp/klab-new"
dr_ab spec-b1 --variant split_kv_mma_cluster_spec decode-attn --batch 1 \
  --len 4096,8192,16384,32768 --layout contiguous,paged
dr_ab w8-b1 --variant split_kv_mma_cluster_w8 decode-attn --batch 1 --len 4096,16384 \
  --layout contiguous
dr_ab spec-b248 --variant split_kv_mma_cluster_spec decode-attn --batch 2,4,8 --len 4096 \
  --layout contiguous
dr_pack
dr_test decode test_cuda_attn_decode_decode_test 300 --gtest_brief=1
dr_finish
