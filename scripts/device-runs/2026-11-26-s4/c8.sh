#!/usr/bin/env bash
# session 4 call 8: decode round 6 (cluster _lean / _lean_s2, ex2 softmax in every cluster
# variant, indices_ready in bench and engine): decode tests, issue shapes, MHA, e2e.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=$OUT; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_attn_decode_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head
B=/tmp/klab-build; K=$B/bin/klab
timeout 120 $B/tests/test_cuda_attn_decode_decode_test --gtest_brief=1 > $R/decode_test.log 2>&1; echo "decode_test rc $? $(grep -E '^\[  (PASSED|FAILED)' $R/decode_test.log | tr '\n' ' ')"; grep -B2 -A6 -E "Failure" $R/decode_test.log | head -30
timeout 90 $K bench decode-attn --batch 1,8,32 --len 512,4096,16384 --layout contiguous,paged --json $R/attn-gqa.json > $R/attn-gqa.txt 2>&1; echo "gqa rc $?"
timeout 40 $K bench decode-attn --batch 1,16 --len 512 --hq 32 --hkv 32 --layout contiguous,paged --json $R/attn-mha.json > $R/attn-mha.txt 2>&1; echo "mha rc $?"
grep -hE "^bench: decode_attention/(split_kv_mma_fused|split_kv_mma_cluster)" $R/attn-gqa.txt $R/attn-mha.txt | cut -c19-105
for v in auto split_kv_mma_cluster_lean; do KLAB_CUDA_DECODE_ATTN=$v timeout 60 $K bench e2e --model llama2-7b --weights q4_0,f16 --batch 1,16 --ctx 512 --prompt 0 > $R/e2e-$v.txt 2>&1; echo "e2e $v rc $?"; grep -hE "^bench: e2e .*tokens/s" $R/e2e-$v.txt | cut -c1-110; done
echo "total $((SECONDS-t0))s"
