#!/usr/bin/env bash
# session 6 call 7 (H100): decode attention with history_ready (K/V copies before the PDL wait).
# Builds klab + the decode test; the cluster / PDL / graph decode tests incl. the new one, and
# memcheck + racecheck of the new one; decode-attention bench at the issue-4 shapes and the 7B
# MHA shape, with and without (KLAB_CUDA_DECODE_EARLY_KV=0); e2e 7B Q4_0 B=1,16 / 8B Q4_0 B=1
# with and without.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res7; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_attn_decode_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
K=/tmp/klab-build/bin/klab; T=/tmp/klab-build/tests/test_cuda_attn_decode_decode_test
timeout 150 $T --gtest_filter='*Cluster*:*BackToBack*:*Graph*:*ZeroLength*' > $R/decode_test.log 2>&1; echo "decode tests rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/decode_test.log | tr '\n' ' ')"
grep -E "^\[  FAILED" $R/decode_test.log | head
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 99 $T --gtest_filter='*HistoryReady*' > $R/san-memcheck.log 2>&1; echo "memcheck rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck.log)"
timeout 120 compute-sanitizer --tool racecheck --error-exitcode 99 $T --gtest_filter='*HistoryReady*' > $R/san-racecheck.log 2>&1; echo "racecheck rc $? $(grep 'RACECHECK SUMMARY' $R/san-racecheck.log)"
for e in 1 0; do
  KLAB_CUDA_DECODE_EARLY_KV=$e timeout 90 $K bench decode-attn --batch 1,8 --len 4096,16384 --layout contiguous,paged --json $R/attn-decode-e$e.json > $R/attn-decode-e$e.txt 2>&1
  KLAB_CUDA_DECODE_EARLY_KV=$e timeout 30 $K bench decode-attn --batch 1 --len 512 --hq 32 --hkv 32 --json $R/attn-mha-e$e.json > $R/attn-mha-e$e.txt 2>&1
  echo "== early_kv $e at $((SECONDS-t0))s"; grep -hE "^bench: decode_attention/split_kv_mma_cluster" $R/attn-decode-e$e.txt $R/attn-mha-e$e.txt | cut -c7-110
done
for e in 1 0; do
  KLAB_CUDA_DECODE_EARLY_KV=$e timeout 60 $K bench e2e --model llama2-7b --weights q4_0 --batch 1,16 --ctx 512 --prompt 0 --json $R/e2e-7b-e$e.json > $R/e2e-7b-e$e.txt 2>&1
  KLAB_CUDA_DECODE_EARLY_KV=$e timeout 60 $K bench e2e --model llama3-8b --weights q4_0 --batch 1 --ctx 512 --prompt 0 --json $R/e2e-8b-e$e.json > $R/e2e-8b-e$e.txt 2>&1
  echo "== early_kv $e"; grep -hE "^bench: e2e .*tokens/s" $R/e2e-7b-e$e.txt $R/e2e-8b-e$e.txt | cut -c1-120
done
tar -czf $OUT/res7.tgz -C $R .
echo "total $((SECONDS-t0))s"
