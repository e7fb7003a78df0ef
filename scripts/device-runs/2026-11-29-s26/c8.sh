#!/usr/bin/env bash
# Session 26 c8 (H200): per-kernel timelines (CUPTI, inside the replayed decode graph) of the
# batch-1 cases on the final code, for issue 8's per-kernel breakdown of the missed targets
# (the last ones were session 21's, before s22-s26's kernel changes). klab built on the dev
# machine from the final code and carried. Expectation: 7B Q4_0 ~1,755 µs a step (s21 1,803),
# the QKV GEMV ~11.8 µs a layer (s21 13.2 advance), the rest within a few % of s21.
set -uo pipefail
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
R=/tmp/c8 && rm -rf "$R" && mkdir -p "$R"
xz -dc .carry/klab.xz > /tmp/klab-final && chmod +x /tmp/klab-final
export KLAB_GIT_COMMIT
KLAB_GIT_COMMIT=$(cat .carry/commit)
nvidia-smi --query-gpu=name --format=csv,noheader
. scripts/device-runs/lib.sh
K=/tmp/klab-final
t0=$SECONDS
dr_timeline 7b-q4_0 q4_0 llama2-7b
dr_timeline 7b-q8_0 q8_0 llama2-7b
dr_timeline 8b-q4_0 q4_0 llama3-8b
dr_timeline 7b-f16 f16 llama2-7b
tar -czf "${OUT:-/tmp}/c8.tgz" -C "$R" .
