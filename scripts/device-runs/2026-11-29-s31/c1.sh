#!/usr/bin/env bash
# Session 31 c1 (H200): decode_stream_pattern's `prologue` group (written in s30, not yet run)
# and the new `wide` group (the two-level merge, kStop 5: the push merge inside clusters, then
# global partials, an arrival counter per (head, owner rank) and the last group's merge), with
# `_spec` beside them (commit 4c71954's klab, carried).
# Predictions, written before the run, at S=16384: prologue pro1 (length before the wait) +0-0.3
# µs, pro2 (Q through shared memory) +0.2-0.6 over merge4 (20.1-20.4); wide: 9c9 merge5 (one
# group: the global step alone) +0.8-1.5 over merge4; 16c2 merge5 (128 SMs) 18.0-18.8, i.e. the
# 128-SM floor with the tile math (16.55) + 1.5-2.3 of epilogue; 16c0 merge5 (16 partials a
# head) within 0.5 of 16c2; 14c7 merge5 between; pro3 adds pro1 + pro2's cost.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c1 commit-new
dr_unxz klab-new.xz /tmp/klab-new
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
PROBE_RANDOM=1 timeout 150 /tmp/stream_pattern wide | tee "$R/wide.txt"
dr_pack
PROBE_RANDOM=1 timeout 120 /tmp/stream_pattern prologue | tee "$R/prologue.txt"
dr_pack
timeout 100 /tmp/klab-new bench --variant split_kv_mma_cluster_spec decode-attn --batch 1 \
  --len 4096,16384 --layout contiguous --json "$R/attn-spec.json" > "$R/attn-spec.txt" 2>&1
grep -h "^bench: .*\[" "$R/attn-spec.txt" | cut -c1-120
dr_finish
