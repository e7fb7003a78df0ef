#!/usr/bin/env bash
# Session 30 c7 (H200): decode_stream_pattern "merge" with merge4: the warp merge, then a push
# merge (each CTA stores its state of every output chunk into the chunk owner's shared memory
# before the one cluster barrier; owners merge locally; no remote reads, no second barrier), with
# c6's steps and `_spec` beside it. c6 at S=16384: no epilogue 18.23, merge1 18.90, merge2 19.61,
# merge3 (the decode's) 20.89. Prediction, written before the run: merge4 19.2-19.7 at S=16384
# (-1.2..-1.7 µs against merge3), the same saving at every length.
set -uo pipefail
R=/tmp/c7 && rm -rf "$R" && mkdir -p "$R"
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
tar -czf "$OUT/c7.tgz" -C /tmp c7
