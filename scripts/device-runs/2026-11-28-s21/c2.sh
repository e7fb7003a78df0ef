#!/usr/bin/env bash
# Session 21 call 2 (H200), right after c1 while the machine is warm (c1's build and the first
# quarter of the real model are in /tmp; this call adds the second): the attention shapes
# (decode B 1..32 x 4096/16384 contiguous and paged, prefill 8192 causal and full) with PyTorch's
# SDPA beside them, and the e2e matrix for Llama-2-7B (Q4_0 / Q8_0 / F16, B 1/4/16, ctx
# 512/4096, 512-token prefill). Expectation: the batch-1 decode rows gain on the H100's by less
# than the copy-bandwidth ratio (~1.4x), so their % of the bound falls; prefill and attention
# prefill about as on the H100 (same tensor rate).
set -uo pipefail
test -f /tmp/m.a && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cp .carry/model.b /tmp/m.b
. scripts/device-runs/lib.sh
dr_start c2
dr_build klab_cli
timeout 100 "$K" bench decode-attn --batch 1,8,16,32 --len 4096,16384 --layout contiguous,paged \
  --json "$R/attn-decode.json" > "$R/attn-decode.txt" 2>&1
echo "decode-attn rc $? ($((SECONDS - t0))s)"
timeout 60 "$K" bench prefill-attn --len 8192 --causal 1,0 --json "$R/attn-prefill.json" \
  > "$R/attn-prefill.txt" 2>&1
echo "prefill-attn rc $? ($((SECONDS - t0))s)"
timeout 90 python3 scripts/bench_sdpa.py --out "$R/sdpa.json" > "$R/sdpa.txt" 2>&1
echo "sdpa rc $? ($((SECONDS - t0))s)"
timeout 250 "$K" bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1,4,16 \
  --ctx 512,4096 --prompt 512 --json "$R/e2e-llama2-7b.json" > "$R/e2e-llama2-7b.txt" 2>&1
echo "e2e 7b rc $? ($((SECONDS - t0))s)"
grep -hE "^bench: e2e.*tokens/s" "$R/e2e-llama2-7b.txt" | cut -c1-140
dr_finish
