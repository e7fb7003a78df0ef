#!/usr/bin/env bash
# Session 31 c8 (H200): the cluster size of the B=1 decode, on whichever card this call lands
# (c7's card: `_spec` forced to clusters of 8 took 22.8 µs at S=16384, its default 9 26.9; on the
# cards of c4 / c5 the default took 23.4-23.8). The GPU's UUID, the probe's one-cluster-a-head deal
# at 9, 8, 7 and 6 CTAs (math, push merge; and 9 / 8 without math), then `_spec` forced to 6, 7,
# 8 and 9 at S=4096..32768, contiguous and paged16, two rounds alternating.
# Predictions, written before the run: if the card is c7's kind, n = 8 ~22.8 and n = 9 ~26.9 at
# S=16384; on a c4 kind, n = 8 within 0.5 µs of n = 9 (~23.5); n = 7 / 6 slower at S=16384 (fewer
# SMs) by ~1.5 / ~3 µs; the probe's 8c8 within 0.5 of 9c9.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c8 commit-study
dr_unxz klab-study.xz /tmp/klab-study
nvidia-smi --query-gpu=name,uuid,serial,pci.bus_id --format=csv | tee "$R/gpu.txt"
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
PROBE_RANDOM=1 timeout 120 /tmp/stream_pattern gpc | tee "$R/gpc.txt"
dr_pack
for round in 1 2; do
  for n in 9 8 7 6; do
    export KLAB_CUDA_DECODE_CLUSTER=$n
    timeout 80 /tmp/klab-study bench --variant split_kv_mma_cluster_spec decode-attn --batch 1 \
      --len 4096,8192,16384,32768 --layout contiguous,paged --json "$R/n$n-r$round.json" \
      > "$R/n$n-r$round.txt" 2>&1
    echo "cluster $n round $round: $(grep -h '^bench: .*\[' "$R/n$n-r$round.txt" | awk '{print $(NF-3), $(NF-2)}' | tr '\n' ' ')"
  done
done
unset KLAB_CUDA_DECODE_CLUSTER
dr_finish
