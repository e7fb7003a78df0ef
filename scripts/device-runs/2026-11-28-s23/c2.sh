#!/usr/bin/env bash
# Session 23 c2 (H200): `split_kv_mma_cluster_s3_spec`, the speculative cluster decode on 4-warp
# CTAs with 3-tile rings (~110 KiB at D = 128, two CTAs an SM).
# Why: c1b's probe (scripts/probes/cluster_placement.cu) on this card: with one CTA an SM
# (~140 KiB and up) a launch holds 9 clusters of 9 at once but only 7 of 16, so the 8 KV heads of
# one sequence get 9-CTA clusters = 72 of 132 SMs; at ~78 KiB (two an SM) 8 clusters of 16 are
# resident together on 112 SMs. s21's B=1 S=4096 / 16384 `_spec` (w8, n = 9): 9.67 / 24.10 µs,
# i.e. ~4.9 µs fixed and a stream at ~3.5 TB/s (83% of copy) from 72 SMs; `_s2` (n = 16, but
# 2-tile rings, no speculation) 26.59 at 16384.
# Prediction: B=1 S=16384 contiguous 24.1 -> 21-22.5 µs (71-76% of copy; the stream toward the
# ~4.35 TB/s read rate B=32 reaches, the fixed part unchanged), paged16 25.95 -> 23-24.5; S=4096
# within ±0.5 µs of `_spec` (its per-CTA ranges are already short). If S=16384 gains >= 5%,
# `auto` takes it for one long contiguous GQA sequence (now `_w4_spec`, 31.2 µs there on this
# card: the rule was set on the H100).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c2
dr_build klab_cli test_cuda_attn_decode_decode_test
dr_test_sharded attn test_cuda_attn_decode_decode_test 8 200
"$B/tests/test_cuda_attn_decode_decode_test" --gtest_filter='*ClusterSizesTheDeviceHolds*' \
  > "$R/cluster-sizes.txt" 2>&1
grep "launched" "$R/cluster-sizes.txt"
dr_pack
for i in 1 2; do
  dr_bench "b1-$i" decode-attn --batch 1 --len 4096,8192,16384,32768 --layout contiguous,paged
  dr_pack
done
dr_finish
