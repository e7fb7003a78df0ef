#!/usr/bin/env bash
# Session 30 c9 (H200): where `_spec`'s time jumps between S=12288 and 16384 (rotated: 17.68 ->
# 23.87 µs, +6.2 for 16.8 MB, the probe's tile math +4.1; some calls 27 µs at 16384): `_spec`,
# `_w8` and `_s2` (commit 4c71954's klab, carried) at S = 12288 .. 20480 in 1024 steps, and the
# probe's per_head/9c9 tile math with and without the push merge at the same lengths. Prediction,
# written before the run: if the jump is the kernel's (a threshold in its deal or prologue), the
# probe rises smoothly while `_spec` steps at one length; if it is the memory (pages, channels),
# the probe steps too.
set -uo pipefail
R=/tmp/c9 && rm -rf "$R" && mkdir -p "$R"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export KLAB_GIT_COMMIT
KLAB_GIT_COMMIT=$(cat .carry/commit-new)
L=12288,13312,14336,15360,16384,17408,18432,20480
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
timeout 200 /tmp/stream_pattern merge $L | tee "$R/stream-pattern.txt"
xz -dc .carry/klab-new.xz > /tmp/klab-new && chmod +x /tmp/klab-new
for v in split_kv_mma_cluster_spec split_kv_mma_cluster_w8 split_kv_mma_cluster_s2; do
  timeout 100 /tmp/klab-new bench --no-validate --variant $v decode-attn --batch 1 --len $L \
    --layout contiguous --json "$R/attn-$v.json" > "$R/attn-$v.txt" 2>&1
  echo "$v: $(grep -h '^bench: .*\[' "$R/attn-$v.txt" | sed -E 's/.*S=([0-9]+).*\] +([0-9.]+) us.*/\1 \2/' | tr '\n' ';')"
done
tar -czf "$OUT/c9.tgz" -C /tmp c9
