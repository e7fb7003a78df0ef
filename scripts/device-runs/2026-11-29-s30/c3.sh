#!/usr/bin/env bash
# Session 30 c3 (H200): decode_stream_pattern "extra": c2's tile math plus 128 .. 640 opaque IMADs
# a tile (standing for the cluster decode's bookkeeping: its key loop is 671 SASS against the
# probe's 326), on `_spec`'s deal (9c9) and on 128 SMs (16c2). c2 put the tile math at +0.65 µs
# over the bare stream at S=16384 (18.24 against 17.59) while `_spec` takes 23.87. Prediction,
# written before the run: if the loop's extra instructions are the gap, 9c9 +256 reaches 21-24 µs
# at S=16384 and 16c2 +256 stays under 19 (half the tiles a warp); if every row stays within
# ~1 µs of +0, the gap is the prologue / merges, not the loop.
set -uo pipefail
R=/tmp/c3 && rm -rf "$R" && mkdir -p "$R"
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
timeout 300 /tmp/stream_pattern extra | tee "$R/stream-pattern.txt"
tar -czf "$OUT/c3.tgz" -C /tmp c3
