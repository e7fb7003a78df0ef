#!/usr/bin/env bash
# session 13 call v2 (H100; last of the session's device time): the decode attention's cluster
# size in the engine (KLAB_CUDA_DECODE_CLUSTER, a study switch; the plan gives 4 CTAs a head at
# Llama-2-7B ctx 512, 128 keys each). With c3's relaxed last barrier the merge costs less, so
# more, shorter CTAs (8: 64 keys, one tile a warp) may end the attention sooner beside the O
# GEMV's blocks; fewer (2) leave more SMs to O. Prediction: 8 within +-1% of 4 (F16, Q8_0,
# Q4_0 B=1 ctx 512), 2 about 1% slower. The default runs are the session's final e2e numbers
# for those three rows as well (same code as v1 but for the reverted F16 two-row O).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resv2; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error|warning" /tmp/build.log | head -10
K=/tmp/klab-build/bin/klab
e2e() {  # name args...
  local n=$1; shift
  timeout 100 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n.json > $R/e2e-$n.txt 2>&1
  echo "$n: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n.txt | tr '\n' ' ') $(grep -hoE 'f16/f16 .*|q[48]_0/f16 .*' $R/e2e-$n.txt | tail -1 | tr -s ' ' | cut -d' ' -f5) ($((SECONDS-t0))s)"
}
for n in 0 8 2; do
  KLAB_CUDA_DECODE_CLUSTER=$n e2e 7b-f16-c$n-1 --model llama2-7b --weights f16 --batch 1
  KLAB_CUDA_DECODE_CLUSTER=$n e2e 7b-q8_0-c$n-1 --model llama2-7b --weights q8_0 --batch 1
  KLAB_CUDA_DECODE_CLUSTER=$n e2e 7b-q4_0-c$n-1 --model llama2-7b --weights q4_0 --batch 1
done
for n in 0 8; do
  KLAB_CUDA_DECODE_CLUSTER=$n e2e 7b-f16-c$n-2 --model llama2-7b --weights f16 --batch 1
  KLAB_CUDA_DECODE_CLUSTER=$n e2e 7b-q8_0-c$n-2 --model llama2-7b --weights q8_0 --batch 1
done
tar -czf $OUT/resv2.tgz -C $R .
echo "total $((SECONDS-t0))s"
