#!/usr/bin/env bash
# Session 30 c2 (H200): decode_stream_pattern with the decode's tile math (TileMath: 32 MMAs, the
# softmax step, 16 ldmatrix a 16-key tile) on the staged tiles, at S = 4096 .. 32768. c1 showed
# the no-math stream of `_spec`'s own deal (per_head/9c9) at 17.54 µs for S=16384 against
# `_spec`'s 24.03, and klab's no-rotate run (the data in L2) 12.82 µs at S=8192 against 14.18
# rotated: the kernel looks bound by its per-warp tile work, not by DRAM. Prediction, written
# before the run: per_head/9c9 8w3s math 21-24 µs at S=16384 (the tile math is most of the gap);
# the same work on 128 SMs (per_head/16, per_head/16c2) 17-19 µs; 4w6s slower than 8w3s (half the
# warps to hide the chain), 12w2s about 8w3s.
set -uo pipefail
R=/tmp/c2 && rm -rf "$R" && mkdir -p "$R"
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
timeout 300 /tmp/stream_pattern | tee "$R/stream-pattern.txt"
tar -czf "$OUT/c2.tgz" -C /tmp c2
