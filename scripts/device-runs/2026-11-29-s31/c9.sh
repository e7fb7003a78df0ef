#!/usr/bin/env bash
# Session 31 c9 (H200): c7 / c8 found `_spec`'s B=1 clusters of 8 faster than the 9 fit_cluster
# takes (two cards: S=16384 22.6-22.85 against 23.8, and 22.8 against 26.9). Before the launch rule
# changes, the other shapes it would touch, forced cluster sizes alternating, two rounds:
# 32 / 4 heads (4 clusters: today 16 CTAs each) at 16 vs 8; `_s2` (two CTAs an SM, today 16) at
# 16 vs 8; `_w4_spec` (one CTA an SM, today 9) at 9 vs 8.
# Predictions, written before the run: 4 KV heads, 16 faster than 8 by 20-40% at S=16384 (twice
# the SMs); `_s2` 16 within 5% of 8; `_w4_spec` 8 faster than 9 by ~1 µs at S=16384 (as `_spec`).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c9 commit-study
dr_unxz klab-study.xz /tmp/klab-study
nvidia-smi --query-gpu=name,uuid --format=csv,noheader | tee "$R/gpu.txt"
one() {  # TAG N VARIANT EXTRA...
  local tag=$1 n=$2 variant=$3
  shift 3
  KLAB_CUDA_DECODE_CLUSTER=$n timeout 80 /tmp/klab-study bench --variant "$variant" decode-attn \
    --batch 1 --len 4096,16384 --layout contiguous "$@" --json "$R/$tag-n$n-r$round.json" \
    > "$R/$tag-n$n-r$round.txt" 2>&1
  echo "$tag n=$n round $round: $(grep -h '^bench: .*\[' "$R/$tag-n$n-r$round.txt" | awk '{print $(NF-3), $(NF-2)}' | tr '\n' ' ')"
}
for round in 1 2; do
  one hkv4-spec 16 split_kv_mma_cluster_spec --hkv 4
  one hkv4-spec 8 split_kv_mma_cluster_spec --hkv 4
  one s2 16 split_kv_mma_cluster_s2
  one s2 8 split_kv_mma_cluster_s2
  one w4spec 9 split_kv_mma_cluster_w4_spec
  one w4spec 8 split_kv_mma_cluster_w4_spec
  one spec 9 split_kv_mma_cluster_spec
  one spec 8 split_kv_mma_cluster_spec
done
dr_finish
