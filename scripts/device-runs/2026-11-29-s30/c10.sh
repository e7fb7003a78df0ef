#!/usr/bin/env bash
# Session 30 c10 (H200): is c9's step (`_spec` 22.24 -> 26.82 µs from S=15360 to 16384, `_w8`
# 21.41 -> 25.92 from 14336 to 15360; `_s2` and the probe smooth) the bench's memory rather than
# the kernel? The probe's tile-math kernels with the bench's allocation (PROBE_SETS=3: three sets,
# K and V each their own cudaMalloc of exactly S x 2 KiB, in turn) against its pool (c9).
# Prediction, written before the run: if the allocation is the cause, the probe steps by ~4 µs
# at one of these lengths with PROBE_SETS=3 and not without.
set -uo pipefail
R=/tmp/c10 && rm -rf "$R" && mkdir -p "$R"
L=12288,13312,14336,15360,16384,17408,18432,20480
nvcc -O3 -std=c++20 -arch=sm_90a scripts/probes/decode_stream_pattern.cu -o /tmp/stream_pattern
timeout 200 /tmp/stream_pattern math $L | tee "$R/stream-pattern-pool.txt"
PROBE_SETS=3 timeout 200 /tmp/stream_pattern math $L | tee "$R/stream-pattern-sets3.txt"
tar -czf "$OUT/c10.tgz" -C /tmp c10
