#!/usr/bin/env bash
# Session 30 c1 (H200): the floor under B=1 decode attention's stream by how the rows are dealt
# (scripts/probes/decode_stream_pattern.cu: no math, 1 CTA an SM, bf16 8 KV heads d128), with
# `_spec` itself from the carried klab (commit 6df9dee; the decode kernels unchanged since) in the
# same call for calibration. Prediction, written before the run: S=16384 per_head/9c9 (the
# decode's deal) ~20.5 µs; if the deal (each SM reading 256 of every 2,048 bytes) is what holds
# the stream at 86-87% of copy, all_heads/132 17-18 µs and bulk/132 16.5-17.5 (>= 88%); if not,
# every style within ~1 µs of per_head/9c9.
set -uo pipefail
R=/tmp/c1 && rm -rf "$R" && mkdir -p "$R"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.max.mem --format=csv,noheader
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
timeout 200 /tmp/stream_pattern | tee "$R/stream-pattern.txt"
xz -dc .carry/klab.xz > /tmp/klab-final && chmod +x /tmp/klab-final
export KLAB_GIT_COMMIT
KLAB_GIT_COMMIT=$(cat .carry/commit)
timeout 100 /tmp/klab-final bench --variant split_kv_mma_cluster_spec decode-attn --batch 1 --len 4096,16384,32768 \
  --layout contiguous --json "$R/attn-spec.json" > "$R/attn-spec.txt" 2>&1
grep -h "^bench: .*\[" "$R/attn-spec.txt" | cut -c1-120
tar -czf "$OUT/c1.tgz" -C /tmp c1
