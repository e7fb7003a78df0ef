#!/usr/bin/env bash
# Session 30 c5 (H200): decode_stream_pattern "merge": the probe's per_head/9c9 8w3s tile-math
# kernel with and without the cluster decode's epilogue (warp merge in shared memory, cluster
# barrier, DSMEM merge, relaxed cluster barrier), and `_spec` itself (carried klab, 6df9dee) at
# the same lengths in the same call. c4 (ncu, one launch alone): `_spec` 23.71 µs against the
# probe's 20.10, its warps in the key loop 70.5% of samples (the probe 90.2%), the epilogue's
# barriers most of the rest. Prediction, written before the run: the epilogue adds 1.5-3 µs at
# every length (18.2 -> 20-21 µs at S=16384); what remains to `_spec` (~23.9) is its prologue.
set -uo pipefail
R=/tmp/c5 && rm -rf "$R" && mkdir -p "$R"
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
tar -czf "$OUT/c5.tgz" -C /tmp c5
