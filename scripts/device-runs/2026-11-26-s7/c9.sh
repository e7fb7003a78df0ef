#!/usr/bin/env bash
# session 7 call 9 (H100): decode attention `auto` from c8's table: _s2 for 2..7 contiguous
# sequences, _w4_spec for one contiguous GQA sequence planned at >= 8192 keys. Decode test
# (every case, auto included); the bench's auto rows; e2e A/B against the previous choice
# (KLAB_CUDA_DECODE_ATTN=split_kv_mma_cluster_spec) where the rule changes it.
# Prediction (before the run): attention 2-7% faster at B=4 and at B=1 S >= 8192; e2e 7B / 8B
# Q4_0 B=4 ctx 4096 +1-3%, 8B Q4_0 B=1 ctx 16384 +1-3%.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res9; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_attn_decode_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 200 $B/tests/test_cuda_attn_decode_decode_test > $R/decode-test.log 2>&1; echo "decode test rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/decode-test.log | tr '\n' ' ') ($((SECONDS-t0))s)"
timeout 60 $K bench decode-attn --batch 1,4 --len 4096,16384 --layout contiguous --json $R/attn.json > $R/attn.txt 2>&1; echo "attn rc $?"
grep -hE "^bench: decode_attention/(auto|split_kv_mma_cluster_spec|split_kv_mma_cluster_s2|split_kv_mma_cluster_w4_spec) " $R/attn.txt | sed -E 's/^bench: decode_attention\///' | awk '{print $1, $2, $3}'
grep -hiE "auto" $R/attn.txt | head -6
e2e() {  # name attn args...
  local n=$1 v=$2; shift 2
  KLAB_CUDA_DECODE_ATTN=$v timeout 90 $K bench e2e --prompt 0 "$@" --json $R/e2e-$n-$v.json > $R/e2e-$n-$v.txt 2>&1
  echo "$n $v: $(grep -hoE '[0-9.]+ tokens/s.*ms\)' $R/e2e-$n-$v.txt | head -2 | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for v in split_kv_mma_cluster_spec auto; do e2e 7b-q4-b4 $v --model llama2-7b --weights q4_0 --batch 4 --ctx 4096; done
for v in split_kv_mma_cluster_spec auto; do e2e 8b-q4-b4 $v --model llama3-8b --weights q4_0 --batch 4 --ctx 4096; done
for v in split_kv_mma_cluster_spec auto; do e2e 8b-q4-c16k $v --model llama3-8b --weights q4_0 --batch 1 --ctx 16384; done
tar -czf $OUT/res9.tgz -C $R .
echo "total $((SECONDS-t0))s"
