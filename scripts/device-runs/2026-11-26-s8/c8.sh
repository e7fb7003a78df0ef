#!/usr/bin/env bash
# session 8 call 8 (H100): which decode-attention variant the engine's B=1 step wants now that
# the O projection no longer crowds onto the SMs the attention leaves free (forced with
# KLAB_CUDA_DECODE_ATTN; auto = _spec at B=1 ctx 512 / 4096 for MHA). _s2's CTA (4 warps, 2-stage
# rings, ~78 KB) can be resident beside the QKV GEMV's last blocks; _spec's (8 warps, ~197 KB)
# needs a whole SM. Prediction: _s2 +1-4% at 7B Q4_0 B=1 (attention 9.5 us a layer in the graph).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res8; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
K=/tmp/klab-build/bin/klab
e2e() {  # name variant args...
  local n=$1 v=$2; shift 2
  KLAB_CUDA_DECODE_ATTN=$v timeout 90 $K bench e2e --prompt 0 "$@" --json $R/e2e-$n-$v.json > $R/e2e-$n-$v.txt 2>&1
  echo "$n $v: $(grep -hoE '[0-9.]+ tokens/s' $R/e2e-$n-$v.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for v in auto split_kv_mma_cluster_s2 split_kv_mma_cluster_w4_spec auto split_kv_mma_cluster_s2 split_kv_mma_cluster_w4_spec; do
  e2e 7b-q4 $v --model llama2-7b --weights q4_0 --batch 1 --ctx 512,4096
done
for v in auto split_kv_mma_cluster_s2 auto split_kv_mma_cluster_s2; do e2e 8b-q4 $v --model llama3-8b --weights q4_0 --batch 1 --ctx 512,4096; done
for v in auto split_kv_mma_cluster_s2; do e2e 7b-q8 $v --model llama2-7b --weights q8_0 --batch 1 --ctx 512; e2e 7b-f16 $v --model llama2-7b --weights f16 --batch 1 --ctx 512; done
KLAB_CUDA_DECODE_ATTN=split_kv_mma_cluster_s2 timeout 60 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 1 --timeline $R/tl-s2 > $R/tl.txt 2>&1
grep -hE "timeline|^  " $R/tl.txt | cut -c1-170 | head -10
tar -czf $OUT/res8.tgz -C $R .
echo "total $((SECONDS-t0))s"
