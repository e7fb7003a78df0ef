#!/usr/bin/env bash
# Session 27 call 1 (H200): the full build and every GPU test (ctest -L gpu: attention, GEMV,
# fused decode, engine). The whole GPU suite last ran in session 21 (1,347 tests); sessions
# 22-26 changed mma_staged (walked addresses, two-chunk ring stages), the decode attention's
# ring copies and paged speculation, and this session the staged GEMV's shared-memory attribute
# (min(219 KiB, opt-in - static) per kernel). Prediction: all pass; the two real-model tests skip
# (the model arrives in thirds over c1-c3; its first third is kept in /tmp here).
set -uo pipefail
. scripts/device-runs/lib.sh
cp .carry/model.a /tmp/m.a 2>/dev/null
dr_start c1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$R/gpu.txt" 2>&1
dr_build
dr_ctest_gpu 16 575
tail -3 "$R/ctest.log"
dr_finish
