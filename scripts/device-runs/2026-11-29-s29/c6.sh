#!/usr/bin/env bash
# Session 29 c6 (H200): every GPU test on the session's final code (commit 6df9dee's sources):
# the full build and `ctest -L gpu -j16`, as s27 c1 (1,348 passed). This session changed the
# cluster decode's prologue order and the dense one-token QKV kernel's rows a warp for small N
# (every F16 test model at one token now takes the 2-row kernel). Prediction: 1,348 passed,
# 0 failed (the 2 real-model tests skipped: the model is not carried in this call).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c6
dr_build
dr_ctest_gpu 16 560
tail -3 "$R/ctest.log"
dr_finish
