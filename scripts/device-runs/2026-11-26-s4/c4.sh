#!/usr/bin/env bash
# session 4 call 4: the cluster decode-attention variants (tests + issue shapes + MHA 512), and
# the engine's fused decode blocks against the unfused chain (e2e, B=1 ctx 512).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=$OUT; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_attn_decode_decode_test test_cuda_attn_decode_split_plan_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head
B=/tmp/klab-build; K=$B/bin/klab
for t in attn_decode_split_plan_test attn_decode_decode_test; do
  timeout 200 $B/tests/test_cuda_$t --gtest_brief=1 > $R/$t.log 2>&1; echo "$t rc $? $(grep -E '^\[  (PASSED|FAILED)' $R/$t.log | tr '\n' ' ')"; grep -B2 -A6 -E "Failure" $R/$t.log | head -40
done
echo "at $((SECONDS-t0))s"
timeout 60 $K bench decode-attn --batch 1,8 --len 512,4096,16384 --layout contiguous,paged --json $R/attn-gqa.json > $R/attn-gqa.txt 2>&1; echo "gqa rc $?"
timeout 40 $K bench decode-attn --batch 1,16 --len 512 --hq 32 --hkv 32 --layout contiguous,paged --json $R/attn-mha.json > $R/attn-mha.txt 2>&1; echo "mha rc $?"
grep -hE "^bench: decode_attention|error|rror:" $R/attn-gqa.txt $R/attn-mha.txt | cut -c1-120
for f in 0 1; do KLAB_CUDA_FUSED=$f timeout 90 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1 --ctx 512 --prompt 0 --json $R/e2e-fused$f.json > $R/e2e-fused$f.txt 2>&1; echo "e2e fused=$f rc $?"; grep -hE "^bench: e2e .*tokens/s" $R/e2e-fused$f.txt | cut -c1-120; done
echo "total $((SECONDS-t0))s"
