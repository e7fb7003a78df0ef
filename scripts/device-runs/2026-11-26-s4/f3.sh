#!/usr/bin/env bash
# session 4 final call 3 (same warm machine): `klab bench e2e` (Llama-2-7B, Llama-3-8B x Q4_0 /
# Q8_0 / F16 x batch 1, 4, 16 x ctx 512, 4096 + prefill 512; the real model) and the per-kernel
# breakdown of a 7B Q4_0 B=1 decode step (Nsight Compute, scripts/profile-e2e.sh).
set -uo pipefail
test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
B=/tmp/klab-build; K=$B/bin/klab; cd /tmp/snap; t0=$SECONDS
R=/tmp/res3; rm -rf $R; mkdir -p $R
timeout 330 $K bench e2e --json $R/e2e.json > $R/e2e.txt 2>&1; echo "e2e rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e.txt | cut -c1-130
OUT=$R timeout 200 bash scripts/profile-e2e.sh llama2-7b q4_0 > $R/profile.txt 2>&1; echo "profile rc $? at $((SECONDS-t0))s"; head -30 $R/profile.txt | cut -c1-140
tar -czf $OUT/res3.tgz -C $R .
echo "total $((SECONDS-t0))s"
