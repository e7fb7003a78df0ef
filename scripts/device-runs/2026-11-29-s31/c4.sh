#!/usr/bin/env bash
# Session 31 c4 (H200): where `_spec` spends its time, by removing pieces of the kernel (the study
# switch KLAB_CUDA_DECODE_STUDY, wrong results, --no-validate): 1 = no epilogue after the loop,
# 2 = the warp merge but no push / cluster merge, 4 = Q constant (no global load), 5 = 1 + 4.
# Two rounds, alternating, B=1 S=4096 / 16384 contiguous. Probe numbers (c1-c3) for the same
# pieces at S=16384: the merge4 epilogue ~2 µs (the warp merge 0.5-0.7 of it), Q through shared
# memory +0.5. Predictions, written before the run: study 1 -2.0..-2.5 µs at both lengths,
# study 2 -1.0..-1.5, study 4 -0.3..-0.6; if study 1 takes more than 3 µs off, the kernel's
# epilogue is where it loses to the probe.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c4 commit-study
dr_unxz klab-study.xz /tmp/klab-study
for round in 1 2; do
  for st in 0 1 2 4 5; do
    KLAB_CUDA_DECODE_STUDY=$st timeout 60 /tmp/klab-study bench --no-validate \
      --variant split_kv_mma_cluster_spec decode-attn --batch 1 --len 4096,16384 \
      --layout contiguous --json "$R/study$st-r$round.json" > "$R/study$st-r$round.txt" 2>&1
    echo "study $st round $round: $(grep -h '^bench: .*\[' "$R/study$st-r$round.txt" | awk '{print $(NF-3), $(NF-2)}' | tr '\n' ' ')"
  done
done
dr_finish
