#!/usr/bin/env bash
# Session 21 call 7 (H200): is c6's racecheck report on gemv_mma_wide_staged_kernel (write
# red[...] line 245, read line 256) the tool not modelling bar.arrive? scripts/probes/
# racecheck_bar_arrive.cu (built here with nvcc -O3 -std=c++20 -arch=sm_90a, carried as
# .carry/bar_probe) runs the kernel's hand-off reduced to its barriers, with bar.arrive (the
# kernel's pattern) and with bar.sync for every warp (control). Prediction: both compute every
# sum right; racecheck reports hazards for `arrive` and none for `sync`.
set -uo pipefail
for mode in arrive sync; do
  .carry/bar_probe "$mode"
  timeout 60 compute-sanitizer --tool racecheck --print-limit 3 .carry/bar_probe "$mode" 2>&1 |
    grep -E "RACECHECK SUMMARY|Race reported|sums wrong" | cut -c1-160
done
