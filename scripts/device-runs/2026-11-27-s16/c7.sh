#!/usr/bin/env bash
# session 16, call c7 (H100): the final code (c6's cp.async staging; the fused wide QKV block only
# where mma_wide runs 3 row tiles a block, since c6's one-tile shapes still lost 1.1-1.4%): full
# build, every GPU test without the real model (c5 ran them with it on 763b366, whose only
# difference is the staging inside the fused kernels, which c6 tested), then 7B Q4_0 B=16
# default against the chain, alternating, and B=1.
# Prediction (written before the run): 7B Q4_0 B=16 +1-1.7% over the chain (c4 +1.7%, c6 +1.0%).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c7
dr_build
(cd "$B" && timeout 420 ctest -L gpu -j10 --timeout 300 > "$R/ctest.log" 2>&1)
echo "ctest rc $? $(grep -E 'tests passed|tests failed' "$R/ctest.log") ($((SECONDS - t0))s)"
grep -E "\*\*\*Failed|\*\*\*Timeout|Exception" "$R/ctest.log" | head -10
for i in 1 2; do
  KLAB_CUDA_WIDE_QKV=chain dr_e2e b16-chain$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-auto$i --model llama2-7b --weights q4_0 --batch 16
done
dr_e2e b1-auto --model llama2-7b --weights q4_0 --batch 1
dr_finish
