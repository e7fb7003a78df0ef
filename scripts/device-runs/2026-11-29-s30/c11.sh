#!/usr/bin/env bash
# Session 30 c11 (H200): the probe's tile math on random K / V (PROBE_RANDOM=1: bf16 in [-1, 1)
# as klab bench fills them, q in [-2, 2), scores scaled to log2 units: the running max moves as in
# the bench) against c2-c10's near-zero data, with the O rescale as the decode does it ("math")
# and lazy (O and the sum kept relative to a stale max until it rose more than 8 in log2 units),
# with and without the push merge; `_spec` and `_s2` (commit 4c71954's klab) beside them, and the
# SM clock sampled every 100 ms through the call. Prediction, written before the run: random
# data makes 9c9 math 1-3 µs slower at S=16384 (the rescale on most tiles), lazy takes back most
# of it; the 0x01 rows unchanged by lazy.
set -uo pipefail
R=/tmp/c11 && rm -rf "$R" && mkdir -p "$R"
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export KLAB_GIT_COMMIT
KLAB_GIT_COMMIT=$(cat .carry/commit-new)
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu \
  --format=csv,noheader -lms 100 > "$R/clocks.csv" 2>&1 &
smi=$!
L=4096,12288,16384,20480
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
timeout 200 /tmp/stream_pattern lazy $L | tee "$R/stream-pattern-0x01.txt"
PROBE_RANDOM=1 timeout 200 /tmp/stream_pattern lazy $L | tee "$R/stream-pattern-random.txt"
xz -dc .carry/klab-new.xz > /tmp/klab-new && chmod +x /tmp/klab-new
for v in split_kv_mma_cluster_spec split_kv_mma_cluster_s2; do
  timeout 100 /tmp/klab-new bench --no-validate --variant $v decode-attn --batch 1 --len $L \
    --layout contiguous --json "$R/attn-$v.json" > "$R/attn-$v.txt" 2>&1
  echo "$v: $(grep -h '^bench: .*\[' "$R/attn-$v.txt" | sed -E 's/.*S=([0-9]+).*\] +([0-9.]+) us.*/\1 \2/' | tr '\n' ';')"
done
kill $smi
awk -F', ' '{print $2}' "$R/clocks.csv" | sort | uniq -c | sort -rn | head -5
tar -czf "$OUT/c11.tgz" -C /tmp c11
