#!/usr/bin/env bash
# session 4 final call 3 (same warm machine): `klab bench e2e` (Llama-2-7B x Q4_0 / Q8_0 / F16 x
# batch 1, 4, 16 x ctx 512, 4096 + prefill 512; Llama-3-8B Q4_0 and the real model at batch 1 and
# 16, ctx 512) and the per-kernel
# breakdown of a 7B Q4_0 B=1 decode step (Nsight Compute, scripts/profile-e2e.sh); e2e with the
# q8-activation GEMV (KLAB_CUDA_GEMV=dp4a_pdl) beside auto.
set -uo pipefail
test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
B=/tmp/klab-build; K=$B/bin/klab; cd /tmp/snap; t0=$SECONDS
R=/tmp/res3; rm -rf $R; mkdir -p $R
timeout 230 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --json $R/e2e-llama2-7b.json > $R/e2e-llama2-7b.txt 2>&1; echo "e2e 7b rc $? at $((SECONDS-t0))s"
timeout 100 $K bench e2e --model llama3-8b,default --weights q4_0 --batch 1,16 --ctx 512 --json $R/e2e-llama3-8b-default.json > $R/e2e-llama3-8b-default.txt 2>&1; echo "e2e 8b+default rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-*.txt | cut -c1-130
KLAB_CUDA_GEMV=dp4a_pdl timeout 90 $K bench e2e --model llama2-7b,llama3-8b --weights q4_0,q8_0 --batch 1 --ctx 512 --prompt 0 --json $R/e2e-dp4a.json > $R/e2e-dp4a.txt 2>&1; echo "e2e dp4a rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-dp4a.txt | cut -c1-130
KLAB_PROFILE_COUNT=330 OUT=$R timeout 110 bash scripts/profile-e2e.sh llama2-7b q4_0 > $R/profile.txt 2>&1; echo "profile rc $? at $((SECONDS-t0))s"; head -30 $R/profile.txt | cut -c1-140
tar -czf $OUT/res3.tgz -C $R .
echo "total $((SECONDS-t0))s"
