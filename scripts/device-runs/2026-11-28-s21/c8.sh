#!/usr/bin/env bash
# Session 21 call 8 (H200, cold; the last ~260 s of the session's device time): c5 found the
# batch-1 4-bit GEMVs launch-and-latency bound (~2.7 µs fixed a launch; a 16-row tile is ~36 KB,
# about two turns of an 8-deep ring a block). `mma_wide_staged` already has the other shape: one
# persistent CTA an SM that streams a run of row tiles through one per-warp ring (built for 9..16
# tokens, not in `auto`). Does it stream better at M = 1? Every 4-bit variant at the 7B shapes
# (M = 1), then end to end with KLAB_CUDA_GEMV=mma_wide_staged_pdl (the fused QKV block keeps
# its own kernel), alternating with the default.
# Prediction: mma_wide_staged_pdl 0.8-1.2x of mma_staged_pdl's time (its ramp paid once an SM,
# against 15 of 16 mma columns wasted and a barrier a row tile); 7B Q4_0 B=1 -5..+8%.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c8
dr_build klab_cli
dr_bench m1-all gemv --M 1 --N 12288,4096,4096 --K 4096,4096,11008
grep -hE "^bench: gemv/(mma_staged_pdl|mma_wide_staged_pdl|mma_async_pdl|dp4a_pdl|mma_wide_pdl) " \
  "$R/bench-m1-all.txt" | cut -c1-110
dr_bench m1-swiglu gemv --M 1 --N 11008 --K 4096 --epilogue swiglu
grep -hE "^bench: gemv/(mma_staged_pdl|mma_wide_staged_pdl|mma_wide_pdl) " "$R/bench-m1-swiglu.txt" | cut -c1-110
for i in 1 2; do
  dr_e2e base-$i --model llama2-7b --weights q4_0 --batch 1
  KLAB_CUDA_GEMV=mma_wide_staged_pdl dr_e2e wide-staged-$i --model llama2-7b --weights q4_0 --batch 1
done
dr_finish
