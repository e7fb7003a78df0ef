#!/usr/bin/env bash
# Session 29 c8 (H200): racecheck and memcheck on the cluster decode tests that reach this
# session's prologue change (speculation with and without a paged cache, indices_ready and
# history_ready, back-to-back calls, graph replays with new lengths), the test binary built on
# the dev machine from commit 6df9dee's sources and carried; one process a filter line, 150 s
# each, both tools at once. Prediction: 0 hazards, 0 errors (the change moves register loads of
# the block table before the PDL wait; no shared-memory access moved).
set -uo pipefail
. scripts/device-runs/lib.sh
DR_NAME=c8
R=/tmp/c8 && rm -rf "$R" && mkdir -p "$R"
t0=$SECONDS
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
bin=/tmp/t_decode
xz -dc .carry/t_attn_decode_decode.xz > "$bin" && chmod +x "$bin"
nvidia-smi --query-gpu=name --format=csv,noheader
f=scripts/device-runs/2026-11-29-s29/c8-filters.txt
dr_sanitize racecheck decode "$bin" 150 "$f"
dr_sanitize memcheck decode "$bin" 150 "$f"
wait
dr_sanitize_summary racecheck decode
dr_sanitize_summary memcheck decode
dr_finish
