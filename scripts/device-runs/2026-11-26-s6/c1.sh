#!/usr/bin/env bash
# session 6 call 1 (H100): build `klab` of the committed snapshot; baseline e2e Llama-2-7B Q4_0
# B=1,16 ctx 512; Nsight Compute breakdown of the B=16 step (where the 2x-of-B=1 time goes);
# decode attention at the 7B MHA shape (32/32 heads) B=1,16 S=512 and GQA B=16 S=512, every
# variant; the wide GEMV at the 7B shapes M=1,16.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
K=/tmp/klab-build/bin/klab
timeout 120 $K bench e2e --model llama2-7b --weights q4_0 --batch 1,16 --ctx 512 --prompt 0 --json $R/e2e.json > $R/e2e.txt 2>&1; echo "e2e rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e.txt | cut -c1-140
timeout 90 $K bench decode-attn --batch 1,16 --len 512 --hq 32 --hkv 32 --json $R/attn-mha.json > $R/attn-mha.txt 2>&1; echo "mha rc $? at $((SECONDS-t0))s"
timeout 60 $K bench decode-attn --batch 16 --len 512 --json $R/attn-gqa16.json > $R/attn-gqa16.txt 2>&1; echo "gqa rc $? at $((SECONDS-t0))s"
grep -hE "^bench: decode_attention" $R/attn-*.txt | cut -c1-150
timeout 90 $K bench gemv --bits 4 --M 1,16 --N 12288,4096,4096 --K 4096,4096,11008 --json $R/gemv.json > $R/gemv.txt 2>&1; echo "gemv rc $? at $((SECONDS-t0))s"
grep -hE "^bench: gemv.*(auto|mma_wide|mma_staged_pdl)" $R/gemv.txt | cut -c1-150
KLAB_PROFILE_COUNT=700 OUT=$R timeout 220 bash scripts/profile-e2e.sh llama2-7b q4_0 16 > $R/profile-b16.txt 2>&1; echo "profile rc $? at $((SECONDS-t0))s"; head -24 $R/profile-b16.txt | cut -c1-200
tar -czf $OUT/res1.tgz -C $R .
echo "total $((SECONDS-t0))s"
