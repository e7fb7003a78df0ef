#!/usr/bin/env bash
# Session 31 c15 (H200): the probe after its refactor (fold_lanes / push_states shared by the
# one- and two-level merges): groups `merge` and `wide`. Prediction, written before the run: the
# same µs as before within noise (s30 c14 merge4 7.39 / 20.29; s31 c1 9c9 merge4 7.50 / 20.19,
# 16c2 merge5 9.18 / 20.69 at S=4096 / 16384).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c15 commit-new
nvidia-smi --query-gpu=name,uuid --format=csv,noheader | tee "$R/gpu.txt"
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
PROBE_RANDOM=1 timeout 100 /tmp/stream_pattern merge 4096,16384 | tee "$R/merge.txt"
PROBE_RANDOM=1 timeout 100 /tmp/stream_pattern wide 4096,16384 | tee "$R/wide.txt"
dr_finish
