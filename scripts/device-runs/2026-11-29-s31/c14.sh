#!/usr/bin/env bash
# Session 31 c14 (H200): 16 lanes a K / V row in the cluster decode at D = 128 (commit 0a6d08c:
# each copy instruction of a warp moves two whole 256-byte rows, not half rows of four) against
# a1cfb38, alternating, two rounds; the decode-attention tests; then issue 4's tables on 0a6d08c
# (used only if the change is kept).
# Predictions, written before the run (c3's probe: the half-row deal cost 0.6-0.8 µs a B=1 launch
# with the tile math, a constant): `_spec` B=1 S=4096 -0.4..-0.8 µs (8.3-8.7), S=16384 -0.4..-0.8
# (21.5-22.1), paged16 alike; `_s2` alike; B=8-32 within 1% (their time is the stream's); all
# tests pass. Risk: 245 / 253 registers against 220 / 224.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c14 commit-new
dr_unxz klab-old.xz /tmp/klab-old
dr_unxz klab-new.xz /tmp/klab-new
dr_unxz t_decode-new.xz "$B/tests/test_cuda_attn_decode_decode_test"
nvidia-smi --query-gpu=name,uuid --format=csv,noheader | tee "$R/gpu.txt"
export DR_AB_SIDES="old:/tmp/klab-old new:/tmp/klab-new"
dr_ab spec-b1 --variant split_kv_mma_cluster_spec decode-attn --batch 1 \
  --len 4096,8192,16384,32768 --layout contiguous,paged
dr_ab s2-b1 --variant split_kv_mma_cluster_s2 decode-attn --batch 1 --len 4096,16384 \
  --layout contiguous,paged
dr_ab spec-b8-32 --variant split_kv_mma_cluster_spec decode-attn --batch 8,16,32 --len 4096 \
  --layout contiguous
dr_ab s2-b8-32 --variant split_kv_mma_cluster_s2 decode-attn --batch 8,16,32 --len 4096 \
  --layout contiguous
dr_pack
dr_test decode test_cuda_attn_decode_decode_test 300 --gtest_brief=1
dr_pack
K=/tmp/klab-new
dr_attn_tables
dr_finish
