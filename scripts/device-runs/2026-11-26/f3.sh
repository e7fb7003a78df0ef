#!/usr/bin/env bash
# session 3 final call 3 (trimmed to the device time left): benchmark JSON for PERFORMANCE.md.
set -uo pipefail
test -d /tmp/klab-build || { echo COLD; exit 3; }
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
B=/tmp/klab-build; K=$B/bin/klab; cd /tmp/snap; t0=$SECONDS
timeout 60 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1 --ctx 512 --json $OUT/e2e-llama2-7b.json > $OUT/e2e-llama2-7b.txt 2>&1; echo "e2e 7b rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $OUT/e2e-*.txt | cut -c1-140
timeout 40 $K bench prefill-attn --len 8192 --causal 1,0 --variant wgmma_fa3_tma --json $OUT/attn-prefill.json > $OUT/attn-prefill.txt 2>&1; echo "prefill rc $? at $((SECONDS-t0))s"
timeout 50 $K bench decode-attn --batch 1,8 --len 4096,16384 --layout contiguous,paged --variant split_kv_mma_fused --json $OUT/attn-decode.json > $OUT/attn-decode.txt 2>&1; echo "decode rc $? at $((SECONDS-t0))s"
grep -hE "^bench: (decode|prefill)_attention" $OUT/attn-*.txt | cut -c1-120
echo "total $((SECONDS-t0))s"
