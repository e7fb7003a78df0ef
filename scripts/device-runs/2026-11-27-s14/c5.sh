#!/usr/bin/env bash
# session 14, call c5 (H100): per-kernel timelines of the final code for every issue-8 target
# still missed (the closing note's breakdowns): 7B Q8_0 B=1, 7B F16 B=1, 8B Q4_0 B=1 and 7B Q4_0
# B=16 (ctx 512; 7B Q4_0 B=1 is c1's `off` timeline).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c5
dr_build klab_cli
tl() {  # name args...
  local n=$1; shift
  timeout 100 "$K" bench e2e --prompt 0 --ctx 512 "$@" --timeline "$R/tl-$n" > "$R/tl-$n.txt" 2>&1
  echo "$n: $(grep -hoE '[0-9.,]+ tokens/s' "$R/tl-$n.txt" | tr '\n' ' ')| $(grep -hE 'timeline .*a step' "$R/tl-$n.txt" | grep -oE '[0-9.]+ us a step')"
  grep -E "^  " "$R/tl-$n.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -9
}
tl q8 --model llama2-7b --weights q8_0 --batch 1
tl f16 --model llama2-7b --weights f16 --batch 1
tl 8b-q4 --model llama3-8b --weights q4_0 --batch 1
tl q4-b16 --model llama2-7b --weights q4_0 --batch 16
dr_finish
