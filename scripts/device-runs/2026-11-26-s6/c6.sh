#!/usr/bin/env bash
# session 6 call 6 (H100, warm after c5: reuses its build): end to end with every decode-attention
# variant forced (KLAB_CUDA_DECODE_ATTN) for Llama-2-7B Q4_0 / Q8_0 and Llama-3-8B Q4_0 B=1
# ctx 512: the ablation of c5 put attention at 12.7 µs and the O projection after it at 11.0 µs a
# layer inside the graph (against 6.7 and 6.2 µs in isolation).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
if [ ! -x /tmp/klab-build/bin/klab ]; then
  rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
  cmake -S /tmp/snap -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
  cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $?"
fi
K=/tmp/klab-build/bin/klab; R=/tmp/res6; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
for spec in "llama2-7b q4_0" "llama3-8b q4_0" "llama2-7b q8_0"; do
  set -- $spec
  for v in auto split_kv_mma_cluster split_kv_mma_cluster_w8 split_kv_mma_cluster_s2 split_kv_mma_cluster_spec split_kv_mma_cluster_w4_spec split_kv_mma_fused split_kv_mma_onepass split_kv_mma_pdl; do
    tag=$1-$2-$v
    KLAB_CUDA_DECODE_ATTN=$v timeout 60 $K bench e2e --model $1 --weights $2 --batch 1 --ctx 512 --prompt 0 --json $R/e2e-$tag.json > $R/e2e-$tag.txt 2>&1
    echo "$1 $2 $v: $(grep -hE '^bench: e2e .*tokens/s' $R/e2e-$tag.txt | sed -E 's/.*: ([0-9.]+ tokens\/s).*\(median of [0-9]+ runs, ([0-9.]+ ms)\).*/\1 \2/')"
  done
done
echo "at $((SECONDS-t0))s"
tar -czf $OUT/res6.tgz -C $R .
