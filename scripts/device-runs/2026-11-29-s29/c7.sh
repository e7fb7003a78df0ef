#!/usr/bin/env bash
# Session 29 c7 (H200): issue 8's missed batch-1 targets measured once more on the final code
# (commit 6df9dee's klab, built on the dev machine and carried), with the kernel timelines of the
# two paths not traced this session (7B Q8_0, 7B F16; c4 has 7B / 8B Q4_0, c2 8B F16), for the
# closing note's per-kernel breakdown. Prediction (unchanged paths): 7B Q4_0 B=1 ctx 512
# 560-572 tok/s (50-51% of the bound), Q8_0 424-430 (71-72%), F16 260-265 (82-83%); 8B Q4_0
# 499-512 (50-51%); timelines within ~2% of s26 c8 (Q8_0 2,326 µs a step) and s28 c1 (F16 3,754).
set -uo pipefail
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
R=/tmp/c7 && rm -rf "$R" && mkdir -p "$R"
DR_NAME=c7
xz -dc .carry/klab.xz > /tmp/klab-final && chmod +x /tmp/klab-final
export KLAB_GIT_COMMIT
KLAB_GIT_COMMIT=$(cat .carry/commit)
nvidia-smi --query-gpu=name --format=csv,noheader
. scripts/device-runs/lib.sh
K=/tmp/klab-final
t0=$SECONDS
timeout 150 "$K" bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1 --ctx 512 \
  --prompt 0 --json "$R/e2e-7b-b1.json" > "$R/e2e-7b-b1.txt" 2>&1
echo "e2e 7b rc $? ($((SECONDS - t0))s)"
timeout 80 "$K" bench e2e --model llama3-8b --weights q4_0 --batch 1 --ctx 512 \
  --prompt 0 --json "$R/e2e-8b-b1.json" > "$R/e2e-8b-b1.txt" 2>&1
echo "e2e 8b rc $? ($((SECONDS - t0))s)"
grep -hE "^bench: e2e.*tokens/s" "$R"/e2e-*.txt | cut -c1-110
dr_pack
dr_timeline 7b-q8_0 q8_0 llama2-7b
dr_timeline 7b-f16 f16 llama2-7b
dr_finish
