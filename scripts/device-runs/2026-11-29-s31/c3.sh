#!/usr/bin/env bash
# Session 31 c3 (H200): decode_stream_pattern `copies`: the kernel's copy deal (RingCopier: a lane
# copies chunks lane % 8 and lane % 8 + 8 of rows lane / 8 + 4 r; pro4) and the zero-fill form of
# cp.async (pro8) on the 72-SM deal with the math and the push merge, with `_spec` beside them.
# Why: in c1 `_spec` runs 1.1 µs over the probe (merge4 pro3) at S=4096 and 3.0 at S=16384, a gap
# growing ~0.65 µs a 4096 keys, i.e. per tile (~350 cycles a warp tile), not the prologue.
# Predictions, written before the run: if the copies' form is the per-tile cost, pro12 (both)
# takes 21.5-23 µs at S=16384 (merge4 ~20.2); else every pro4 / pro8 row within 0.3 µs of merge4.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c3 commit-new
dr_unxz klab-new.xz /tmp/klab-new
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
PROBE_RANDOM=1 timeout 150 /tmp/stream_pattern copies | tee "$R/copies.txt"
dr_pack
timeout 100 /tmp/klab-new bench --variant split_kv_mma_cluster_spec decode-attn --batch 1 \
  --len 4096,16384 --layout contiguous --json "$R/attn-spec.json" > "$R/attn-spec.txt" 2>&1
grep -h "^bench: .*\[" "$R/attn-spec.txt" | cut -c1-120
dr_finish
