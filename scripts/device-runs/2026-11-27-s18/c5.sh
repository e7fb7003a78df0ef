#!/usr/bin/env bash
# session 18, call c5 (H100), final code (c4's rule): (1) the 4-bit down projection of a wide
# batch on mma_wide, now two tiles a block, against mma_wide_split (KLAB_CUDA_WIDE_LONGK=wide;
# c4 standalone 18.66 vs split 18.08 us; session 17 measured -2% end to end at one tile a block).
# Prediction: within +-1% end to end (7B Q4_0 B=16). (2) Timelines of the final 7B Q4_0 and Q8_0
# B=16 steps (the breakdown issue 8 asks for). (3) compute-sanitizer memcheck of the row-tile
# tests (R = 2 now the engine's O projection).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c5
dr_build klab_cli test_cuda_gemv_gemv_q_test
timeout 200 compute-sanitizer --tool memcheck --error-exitcode 3 \
  "$B/tests/test_cuda_gemv_gemv_q_test" --gtest_filter='GemvQ.WideDecodeEveryRowTileCount:GemvWideRule*' \
  > "$R/memcheck.log" 2>&1
echo "memcheck rc $? $(grep -E 'ERROR SUMMARY|PASSED|FAILED' "$R/memcheck.log" | tr '\n' ' ')"
for i in 1 2; do
  dr_e2e b16-split$i --model llama2-7b --weights q4_0 --batch 16
  KLAB_CUDA_WIDE_LONGK=wide dr_e2e b16-longk-wide$i --model llama2-7b --weights q4_0 --batch 16
done
for w in q4_0 q8_0; do
  timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights $w --batch 16 \
    --timeline "$R/tl-$w-b16" > "$R/tl-$w-b16.txt" 2>&1
  echo "timeline $w: $(grep -hE 'timeline .*a step' "$R/tl-$w-b16.txt" | cut -c1-120)"
  grep -E "^  " "$R/tl-$w-b16.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -10
done
dr_finish
