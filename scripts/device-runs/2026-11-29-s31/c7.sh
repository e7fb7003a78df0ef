#!/usr/bin/env bash
# Session 31 c7 (H200): is `_spec`'s bimodal B=1 time (S=16384 23.3-24.0 or 26.8-27.1 by call,
# c4 / c5 good, c6 bad) a property of the card a call lands on? Every call here starts a fresh
# machine. Prints the GPU's UUID and serial, the cluster capacities by n (cluster_placement.cu),
# then `_spec` at S=15360 / 16384 with the plan's own cluster size and forced to 8, 9, 10 and 12
# (KLAB_CUDA_DECODE_CLUSTER; the launch still caps it to what the card holds at once).
# Prediction, written before the run: the capacities differ between good and bad cards, and on a
# bad card the forced n = 9 is as fast as on a good one (~23.5 µs) while the default is ~27.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c7 commit-study
dr_unxz klab-study.xz /tmp/klab-study
nvidia-smi --query-gpu=name,uuid,serial,pci.bus_id --format=csv | tee "$R/gpu.txt"
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/cluster_placement.cu -o /tmp/cluster_probe
timeout 60 /tmp/cluster_probe | tee "$R/cluster-placement.txt"
for round in 1 2; do
  for n in default 8 9 10 12; do
    if [ "$n" = default ]; then unset KLAB_CUDA_DECODE_CLUSTER; else export KLAB_CUDA_DECODE_CLUSTER=$n; fi
    timeout 60 /tmp/klab-study bench --variant split_kv_mma_cluster_spec decode-attn --batch 1 \
      --len 4096,15360,16384 --layout contiguous --json "$R/n$n-r$round.json" > "$R/n$n-r$round.txt" 2>&1
    echo "cluster $n round $round: $(grep -h '^bench: .*\[' "$R/n$n-r$round.txt" | awk '{print $(NF-3), $(NF-2)}' | tr '\n' ' ')"
  done
done
unset KLAB_CUDA_DECODE_CLUSTER
dr_finish
