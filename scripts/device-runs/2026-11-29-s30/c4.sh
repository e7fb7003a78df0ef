#!/usr/bin/env bash
# Session 30 c4 (H200): Nsight Compute (--set full, source counters) of one launch each of
# `_spec` (carried klab, commit 6df9dee) at B=1 S=16384 contiguous and of the probe's
# per_head/9c9 8w3s math at S=16384, for the instructions each executes a 16-key tile and where
# their warps wait. c3: the probe's tile math plus ~384 opaque IMADs a tile lands at `_spec`'s
# time (22.96 against 23.87 µs); the key loop is 671 SASS against the probe's 326. Prediction,
# written before the run: `_spec` executes ~550-750 warp instructions a tile (the probe ~280),
# its stalls mostly `wait` / `selected` / `math` in the copy-address and cursor code.
set -uo pipefail
. scripts/device-runs/lib.sh
DR_NAME=c4
R=/tmp/c4 && rm -rf "$R" && mkdir -p "$R"
t0=$SECONDS
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export KLAB_GIT_COMMIT
KLAB_GIT_COMMIT=$(cat .carry/commit)
xz -dc .carry/klab.xz > /tmp/klab-final && chmod +x /tmp/klab-final
K=/tmp/klab-final
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
# The probe: 18 replays of 32 launches at one length; launch 100 is a replayed one.
timeout 150 ncu --clock-control none -k "regex:ring_kernel" --launch-skip 100 --launch-count 1 \
  --set full --import-source yes --warp-sampling-interval 0 -o "$R/ncu-probe" \
  /tmp/stream_pattern one 16384 > "$R/ncu-probe.log" 2>&1
echo "== ncu probe rc $? ($((SECONDS - t0))s)"
ncu -i "$R/ncu-probe.ncu-rep" --page details > "$R/ncu-probe-details.txt" 2>&1
ncu -i "$R/ncu-probe.ncu-rep" --page source --csv --print-source sass > "$R/ncu-probe-sass.csv" 2>&1
python3 scripts/ncu_stalls.py "$R/ncu-probe-sass.csv" --top 8 2>&1 | cut -c1-140 | head -20
rm -f "$R/ncu-probe.ncu-rep"
dr_ncu spec decode_cluster_kernel --variant split_kv_mma_cluster_spec decode-attn --batch 1 \
  --len 16384 --layout contiguous
for f in "$R"/*-details.txt; do
  echo "== $f"
  grep -E "Duration|Executed Instructions|Issue Slots Busy|Registers Per|DRAM Throughput" "$f" | head -8
done
gzip "$R"/*.csv
tar -czf "$OUT/c4.tgz" -C /tmp c4
