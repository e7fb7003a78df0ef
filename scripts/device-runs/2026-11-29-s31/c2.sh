#!/usr/bin/env bash
# Session 31 c2 (H200): decode_stream_pattern `wide2`. c1 at S=16384: 9c9 merge4 20.19 µs, the
# global step alone (9c9 merge5) +2.65, 16c2 with the math 16.79, 16c2 merge5 20.69 (epilogue
# +3.9), no cluster 22.55. Here merge6, the arrival as one atom.acq_rel.gpu (no fence.sc before
# it, no fence after). Predictions, written before the run: merge6 0.3-0.8 µs under merge5 on
# both deals (16c2 ~20.0-20.4); 12c4 / 12c3 (96 SMs, 3 / 4 groups) stream 17.0-17.4 with the
# math and land within 0.5 of 16c2 merge6.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c2 commit-new
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
PROBE_RANDOM=1 timeout 150 /tmp/stream_pattern wide2 | tee "$R/wide2.txt"
dr_finish
