#!/usr/bin/env bash
# Session 31 c5 (H200): where `_spec` spends its time, by removing pieces of the kernel (the study
# switch KLAB_CUDA_DECODE_STUDY, wrong results, --no-validate): 1 = no epilogue after the loop,
# 2 = the warp merge but no push / cluster merge, 4 = Q constant (no global load), 5 = 1 + 4.
# c4 at S=16384: full 23.75, no epilogue (1) 21.1, the warp merge only (2) 21.3: the push, the
# cluster barrier and the owners' merge take 2.45 µs, against ~1.3 in the probe (merge4 - merge1).
# Here the pieces: 8 = no push stores, 16 = no owners' merge, 24 = the barrier alone. Predictions,
# written before the run: the stores 0.3-0.6, the merge 0.3-0.6, the barrier (24 - 2) 0.8-1.3.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c5 commit-study
dr_unxz klab-study.xz /tmp/klab-study
for round in 1 2; do
  for st in 0 2 8 16 24; do
    KLAB_CUDA_DECODE_STUDY=$st timeout 60 /tmp/klab-study bench --no-validate \
      --variant split_kv_mma_cluster_spec decode-attn --batch 1 --len 4096,16384 \
      --layout contiguous --json "$R/study$st-r$round.json" > "$R/study$st-r$round.txt" 2>&1
    echo "study $st round $round: $(grep -h '^bench: .*\[' "$R/study$st-r$round.txt" | awk '{print $(NF-3), $(NF-2)}' | tr '\n' ' ')"
  done
done
dr_finish
