#!/usr/bin/env bash
# Session 30 c6 (H200): decode_stream_pattern "merge" with the probe's epilogue cut in steps
# (merge1: the warp merge in shared memory; merge2: and both cluster barriers; merge3: and the
# DSMEM merge, c5's "merge"), `_spec` (carried klab, 6df9dee) beside it. c5: the whole epilogue
# added 2.2-3.3 µs (S=16384 18.21 -> 21.04). Prediction, written before the run: merge1 +0.3-0.6
# µs, merge2 +0.8-1.5, merge3 the rest.
set -uo pipefail
R=/tmp/c6 && rm -rf "$R" && mkdir -p "$R"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
timeout 200 /tmp/stream_pattern merge | tee "$R/stream-pattern.txt"
xz -dc .carry/klab.xz > /tmp/klab-final && chmod +x /tmp/klab-final
export KLAB_GIT_COMMIT
KLAB_GIT_COMMIT=$(cat .carry/commit)
timeout 100 /tmp/klab-final bench --variant split_kv_mma_cluster_spec decode-attn --batch 1 \
  --len 4096,8192,12288,16384,32768 --layout contiguous --json "$R/attn-spec.json" \
  > "$R/attn-spec.txt" 2>&1
grep -h "^bench: .*\[" "$R/attn-spec.txt" | cut -c1-120
tar -czf "$OUT/c6.tgz" -C /tmp c6
