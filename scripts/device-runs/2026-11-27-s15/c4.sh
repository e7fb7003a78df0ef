#!/usr/bin/env bash
# session 15, call c4 (H100): auto picks mma_wide_split only where c3 measured it faster (4-bit,
# 9..16 tokens: SwiGLU, K >= 8192, N >= 16384), with the largest split that keeps <= 2 CTAs an SM.
# Every GPU test (no real model here: its tests skip), then 7B Q4_0 B=16 auto vs mma_wide.
# Prediction (written before the run): per layer down -1.5 us, gate/up -1.2, the LM head -11.5 us
# a step: 7B Q4_0 B=16 ctx 512 +2% (3,485 -> ~3,555 tok/s); 8B Q4_0 B=16 +1-3%.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c4
dr_build
(cd "$B" && timeout 420 ctest -L gpu -j10 --timeout 300 > "$R/ctest.log" 2>&1)
echo "ctest rc $? $(grep -E 'tests passed|tests failed' "$R/ctest.log") ($((SECONDS - t0))s)"
grep -E "\*\*\*Failed|\*\*\*Timeout|Exception" "$R/ctest.log" | head -10
timeout 60 "$K" bench --variant mma_wide_split_pdl gemv --M 16 --N 12288,4096,4096,32000 \
  --K 4096,4096,11008,4096 --json "$R/gemv-split.json" > "$R/gemv-split.txt" 2>&1
grep -h "bench: gemv" "$R/gemv-split.txt"
for i in 1 2; do
  KLAB_CUDA_GEMV=mma_wide_pdl dr_e2e b16-wide$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-auto$i --model llama2-7b --weights q4_0 --batch 16
done
KLAB_CUDA_GEMV=mma_wide_pdl dr_e2e 8b-b16-wide --model llama3-8b --weights q4_0 --batch 16
dr_e2e 8b-b16-auto --model llama3-8b --weights q4_0 --batch 16
dr_finish
