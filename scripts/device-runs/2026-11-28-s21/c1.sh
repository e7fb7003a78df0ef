#!/usr/bin/env bash
# Session 21 call 1. The lent card is now an NVIDIA H200 (sessions 5-20 ran on an H100; the last
# H200 run was session 4), so this session starts by measuring today's code again on it. This
# call: the full build and every GPU test (ctest -L gpu: attention, GEMV, fused decode, engine),
# which also runs 876a6f0's host-only review changes (norm_rows, the KLAB_CUDA_ABLATE message,
# the wide rule's GemvParams) on a GPU for the first time. The first quarter of the real model is
# kept in /tmp for c4 (a call carries 64 MiB of disk blocks with the work tree), so c2-c4
# follow while warm.
set -uo pipefail
. scripts/device-runs/lib.sh
cp .carry/model.a /tmp/m.a 2>/dev/null
dr_start c1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$R/gpu.txt" 2>&1
dr_build
dr_ctest_gpu 12 570
dr_finish
