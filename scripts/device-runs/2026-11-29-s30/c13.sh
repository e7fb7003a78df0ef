#!/usr/bin/env bash
# Session 30 c13 (H200): issue 4's tables on the push merge (commit 4c71954's klab, carried):
# dr_attn_tables (decode-attn B=1/8/16/32 x S=4096/16384 x contiguous/paged16, prefill-attn
# S=8192 causal/full, PyTorch's SDPA on the same shapes). Prediction, written before the run: as
# c8 / c11 measured (B=1 S=4096 ~9.1 µs, S=16384 23.8 or ~27 by the call's mode, `_s2` -0.3 µs),
# B=8-32 and prefill as s29 c3 (85 / 97 / 102%, 474 / 489 TFLOP/s).
set -uo pipefail
. scripts/device-runs/lib.sh
DR_NAME=c13
R=/tmp/c13 && rm -rf "$R" && mkdir -p "$R"
t0=$SECONDS
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export KLAB_GIT_COMMIT
KLAB_GIT_COMMIT=$(cat .carry/commit-new)
nvidia-smi --query-gpu=name --format=csv,noheader
xz -dc .carry/klab-new.xz > /tmp/klab-new && chmod +x /tmp/klab-new
K=/tmp/klab-new
dr_attn_tables
dr_finish
