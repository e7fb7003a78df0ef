#!/usr/bin/env bash
# session 7 call 8 (H100): decode attention at long single sequences, to size an `auto` rule
# that takes split_kv_mma_cluster_w4_spec instead of _spec where the planned length is long
# (s5 c3 and s7 v2: B=1 S=16384 _w4_spec 30.4 / 30.9 us, _spec 31.8 / 34.7). Every variant, B =
# 1, 2, 4 x S = 4096, 8192, 12288, 16384, 32768, GQA 32/8 and MHA 32/32 (d 128, bf16), and f16 at
# B=1; contiguous, and paged16 at B=1. Bench only (no code change).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res8; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
K=/tmp/klab-build/bin/klab
timeout 150 $K bench decode-attn --batch 1,2,4 --len 4096,8192,12288,16384,32768 --layout contiguous --json $R/gqa.json > $R/gqa.txt 2>&1; echo "gqa rc $? ($((SECONDS-t0))s)"
timeout 100 $K bench decode-attn --batch 1 --len 4096,8192,16384,32768 --layout paged --json $R/gqa-paged.json > $R/gqa-paged.txt 2>&1; echo "paged rc $? ($((SECONDS-t0))s)"
timeout 100 $K bench decode-attn --batch 1,4 --len 4096,8192,16384 --hq 32 --hkv 32 --layout contiguous --json $R/mha.json > $R/mha.txt 2>&1; echo "mha rc $? ($((SECONDS-t0))s)"
timeout 60 $K bench decode-attn --batch 1 --len 8192,16384 --dtype f16 --layout contiguous --json $R/gqa-f16.json > $R/gqa-f16.txt 2>&1; echo "f16 rc $? ($((SECONDS-t0))s)"
for f in gqa gqa-paged mha gqa-f16; do grep -hE "^bench: decode_attention/split_kv_mma_cluster(_spec|_w4_spec|_s2)? " $R/$f.txt | sed -E 's/^bench: decode_attention\///' | awk '{print $1, $2, $3}'; done
tar -czf $OUT/res8.tgz -C $R .
echo "total $((SECONDS-t0))s"
