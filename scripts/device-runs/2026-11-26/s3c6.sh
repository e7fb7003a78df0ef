#!/usr/bin/env bash
# session 3 call 6: all new variants: gemv staged (W by K), decode fused round 2, prefill
# wgmma_fa3_gqa/_tma: their tests, benches, and 7B e2e with the new autos.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap
R=/tmp/res; rm -rf $R; mkdir -p $R
t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test test_cuda_attn_decode_decode_test test_cuda_attn_prefill_prefill_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
for t in gemv_gemv_q_test attn_decode_decode_test attn_prefill_prefill_test; do
  timeout 200 $B/tests/test_cuda_$t --gtest_brief=1 > $R/$t.log 2>&1; echo "$t rc $? at $((SECONDS-t0))s $(grep -E '^\[  (PASSED|FAILED)' $R/$t.log | tr '\n' ' ' | cut -c1-200)"
  grep -A5 "Failure" $R/$t.log | grep -vE "^--$" | head -12
done
timeout 90 $K bench prefill-attn --len 8192 --causal 1,0 --variant wgmma_fa3_gqa > $R/p-gqa.txt 2>&1; grep "^bench: prefill" $R/p-gqa.txt
timeout 90 $K bench prefill-attn --len 8192 --causal 1,0 --variant wgmma_fa3_tma > $R/p-tma.txt 2>&1; grep "^bench: prefill" $R/p-tma.txt
timeout 90 $K bench prefill-attn --len 8192 --causal 1,0 --variant mma_fa2 > $R/p-fa2.txt 2>&1; grep "^bench: prefill" $R/p-fa2.txt
timeout 120 $K bench decode-attn --batch 1,8 --len 512,4096,16384 --layout contiguous,paged > $R/attn-decode.txt 2>&1; echo "decode bench rc $?"
grep -E "^bench: decode_attention/(split_kv_mma_onepass|split_kv_mma_fused) " $R/attn-decode.txt | cut -c1-110
for v in mma_async mma_staged; do
  timeout 60 $K bench gemv --bits 4,8 --M 1 --variant $v > $R/gemv-$v.txt 2>&1
  timeout 60 $K bench gemv --bits 4 --M 1 --N 12288,4096,4096 --K 4096,4096,11008 --variant $v > $R/gemv7b-$v.txt 2>&1
done
grep -hE "^bench: gemv" $R/gemv-*.txt $R/gemv7b-*.txt | cut -c1-110
for a in auto split_kv_mma_fused; do
  KLAB_CUDA_DECODE_ATTN=$a timeout 120 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1 --ctx 512 --prompt 0 > $R/e2e-$a.txt 2>&1; echo "e2e $a rc $?"; grep -E "tokens/s" $R/e2e-$a.txt | cut -c1-150
done
tar -czf $OUT/res.tgz -C $R .
echo "total $((SECONDS-t0))s"
