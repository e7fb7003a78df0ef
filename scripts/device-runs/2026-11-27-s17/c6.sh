#!/usr/bin/env bash
# session 17, call c6 (H100): two probes on the final kernels (c4's), for the next step.
# (1) The down projection (K = 11008) in the B=16 step: mma_wide_split takes 21.5 us a layer
# (c3 timeline) against 18.5 standalone; mma_wide measured 19.8 standalone (c2). A/B with the
# study switch KLAB_CUDA_WIDE_LONGK=wide (down on mma_wide), alternating. Prediction: within
# +-1% (the standalone gap is 1.4 us a layer the other way).
# (2) 8-bit row tiles a block with the interior loop (the rule keeps R = 1 at 8 bits from
# session 6's measurements): M = 16 8-bit GEMVs with KLAB_CUDA_WIDE_ROWS = 1..4. Prediction:
# R = 1 still best or within 3%.
# (3) The Q8_0 B=16 timeline (no breakdown of it since session 8).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c6
dr_build klab_cli
for i in 1 2; do
  dr_e2e b16-default$i --model llama2-7b --weights q4_0 --batch 16
  KLAB_CUDA_WIDE_LONGK=wide dr_e2e b16-longk-wide$i --model llama2-7b --weights q4_0 --batch 16
done
for r in 1 2 3 4; do
  KLAB_CUDA_WIDE_ROWS=$r timeout 60 "$K" bench --variant mma_wide_pdl gemv --bits 8 --M 16 \
    --N 12288,4096,4096 --K 4096,4096,11008 --json "$R/gemv-q8-r$r.json" > "$R/gemv-q8-r$r.txt" 2>&1
  echo "R=$r: $(grep -hE '^gemv ' "$R/gemv-q8-r$r.txt" | awk '{print $3, $5}' | tr '\n' ' ')"
done
timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q8_0 --batch 16 \
  --timeline "$R/tl-q8-b16" > "$R/tl-q8-b16.txt" 2>&1
echo "timeline: $(grep -hE 'timeline .*a step' "$R/tl-q8-b16.txt" | cut -c1-120)"
grep -E "^  " "$R/tl-q8-b16.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -9
dr_finish
