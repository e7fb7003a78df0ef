#!/usr/bin/env bash
# session 16, call c4 (H100): the final rule for the wide fused QKV block (staged takes it only
# where the row-tile rule gives 3 tiles a block, where c3 measured it faster): full build (kept
# warm for c5's ctest; the model's first half stashed as /tmp/m.a), then B=16 end to end, default
# against KLAB_CUDA_WIDE_QKV=chain (alternating), Llama-3-8B Q4_0 and 7B Q8_0 B=16 (now on the
# chain: expected as c3's chain runs), 7B Q4_0 B=1 (path unchanged), and the B=16 timeline.
# Prediction (written before the run): 7B Q4_0 B=16 +1.5% over the chain (c3: 3,580 vs 3,530);
# 8B B=16 ~4,890, Q8_0 B=16 ~2,815 (c3's chain numbers); B=1 ~505.
set -uo pipefail
cp .carry/model.a /tmp/m.a
. scripts/device-runs/lib.sh
dr_start c4
dr_build
for i in 1 2; do
  KLAB_CUDA_WIDE_QKV=chain dr_e2e b16-chain$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-auto$i --model llama2-7b --weights q4_0 --batch 16
done
dr_e2e 8b-b16-auto --model llama3-8b --weights q4_0 --batch 16
dr_e2e q8-b16-auto --model llama2-7b --weights q8_0 --batch 16
dr_e2e b1-auto --model llama2-7b --weights q4_0 --batch 1
timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 \
  --timeline "$R/tl-b16" > "$R/tl-b16.txt" 2>&1
echo "timeline: $(grep -hE 'timeline .*a step' "$R/tl-b16.txt" | cut -c1-120)"
grep -E "^  " "$R/tl-b16.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -9
dr_finish
