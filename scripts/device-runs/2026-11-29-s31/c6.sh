#!/usr/bin/env bash
# Session 31 c6 (H200): where `_spec` spends its time, by removing pieces of the kernel (the study
# switch KLAB_CUDA_DECODE_STUDY, wrong results, --no-validate): 1 = no epilogue after the loop,
# 2 = the warp merge but no push / cluster merge, 4 = Q constant (no global load), 5 = 1 + 4.
# c4 / c5 at S=16384: the kernel up to the end of its loop (study 1) 21.1 µs against the probe's
# 18.24 with the same deal and math; the gap grows with S (per tile). Here the loop's pieces:
# 32 = its copies in the plain cp.async form, every row valid (the ZFILL form's src-size select
# and sign tests, ~70 SASS a tile of address math), 64 = its rows from key0 by one product (no
# RowCursor), 128 = no last-tile checks, 224 = all three. Predictions, written before the run:
# 32 -0.3..-0.8 µs at S=16384, 64 within 0.3, 128 within 0.3; if 224 is not ~1.5 µs faster the
# gap is elsewhere (the loop's registers or the tile math's own code).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c6 commit-study
dr_unxz klab-study.xz /tmp/klab-study
for round in 1 2; do
  for st in 0 32 64 128 224 1; do
    KLAB_CUDA_DECODE_STUDY=$st timeout 60 /tmp/klab-study bench --no-validate \
      --variant split_kv_mma_cluster_spec decode-attn --batch 1 --len 4096,16384 \
      --layout contiguous --json "$R/study$st-r$round.json" > "$R/study$st-r$round.txt" 2>&1
    echo "study $st round $round: $(grep -h '^bench: .*\[' "$R/study$st-r$round.txt" | awk '{print $(NF-3), $(NF-2)}' | tr '\n' ' ')"
  done
done
dr_finish
