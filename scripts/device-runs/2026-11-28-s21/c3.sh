#!/usr/bin/env bash
# Session 21 call 3 (H200), after c2 while warm (this call brings the real model's third quarter):
# the e2e rows for Llama-3-8B (Q4_0 / Q8_0 / F16, B 1/4/16, ctx 512/4096, 512-token prefill) and
# the quick kernel suite (every case validated) with its ceilings.
set -uo pipefail
test -f /tmp/m.b && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cp .carry/model.c /tmp/m.c
. scripts/device-runs/lib.sh
dr_start c3
dr_build klab_cli
timeout 250 "$K" bench e2e --model llama3-8b --weights q4_0,q8_0,f16 --batch 1,4,16 \
  --ctx 512,4096 --prompt 512 --json "$R/e2e-llama3-8b.json" > "$R/e2e-llama3-8b.txt" 2>&1
echo "e2e 8b rc $? ($((SECONDS - t0))s)"
grep -hE "^bench: e2e.*tokens/s" "$R"/e2e-*.txt | cut -c1-140
left=$((540 - (SECONDS - t0)))
timeout "$left" "$K" bench --suite quick --json "$R/quick.json" --csv "$R/quick.csv" > "$R/quick.txt" 2>&1
echo "quick suite rc $? ($((SECONDS - t0))s)"
tail -3 "$R/quick.txt" | cut -c1-150
dr_finish
