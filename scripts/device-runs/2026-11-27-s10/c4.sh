#!/usr/bin/env bash
# session 10 call 4 (H100, last device minutes): F16 decode attention variant with the fused
# dense QKV GEMV before it. The session-8 choice of `_s2` for one sequence was measured on Q4_0,
# whose QKV GEMV holds shared memory (mma_staged); the dense GEMV holds none, so `_spec`'s 197 KB
# CTAs may now be resident beside its last blocks. Prediction: within +-1% (s8 c8 on Q4_0:
# `_s2` +1-2% over `_spec`). Alternating, 7B F16 B=1 ctx 512; each result copied to $OUT at once.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
K=/tmp/klab-build/bin/klab
for i in 1 2; do
  for v in auto split_kv_mma_cluster_spec split_kv_mma_cluster_w8; do
    KLAB_CUDA_DECODE_ATTN=$v timeout 40 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights f16 --batch 1 --json $OUT/e2e-$v-$i.json > $OUT/e2e-$v-$i.txt 2>&1
    echo "$v: $(grep -hoE '[0-9.,]+ tokens/s' $OUT/e2e-$v-$i.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
  done
done
echo "total $((SECONDS-t0))s"
