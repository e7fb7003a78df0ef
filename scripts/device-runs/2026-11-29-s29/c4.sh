#!/usr/bin/env bash
# Session 29 c4 (H200, warm after c3): where few-tile one-token 4-bit GEMVs stand with more warps.
# Llama-3-8B Q4_0's QKV (6,144 rows: 384 tiles of 16, 4 warps, ~12 warps an SM) advanced the
# B=1 step 8.46 µs a layer for 3.4 µs of bytes (s26 c8): the same under-filled grid the F16 QKV
# had (c2 fixed that one with 2 rows a warp: +3.8%). An mma tile is 16 rows, so the lever here
# is warps a block: KLAB_CUDA_STAGED_WARPS=8 (every staged launch; SwiGLU capped at 8, the
# one-wave search off) in the step's timeline, against the default's.
# Prediction: 8B QKV 8.46 -> 6-7.5 µs a layer with 8 warps (its whole tile, 8 chunks a warp, is
# requested in the prologue); O (256 tiles) within ±0.5 µs (H100 s5: 8 warps slower alone);
# gate/up slower (896 tiles at 8 warps: 2+ waves). If QKV gains, a tile-count rule follows.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c4
dr_build klab_cli
dr_timeline 8b-q4-default q4_0 llama3-8b
KLAB_CUDA_STAGED_WARPS=8 dr_timeline 8b-q4-warps8 q4_0 llama3-8b
dr_pack
dr_timeline 7b-q4-default q4_0 llama2-7b
KLAB_CUDA_STAGED_WARPS=8 dr_timeline 7b-q4-warps8 q4_0 llama2-7b
dr_finish
