#!/usr/bin/env bash
# session 7 call 6 (H100): the two longest GPU tests made shorter (v2's ctest: QKV
# RopeKvWriteEveryVariantMatchesReference 92.6 s, GemvQ.WidePdlChainReadsThePreviousOutput
# 44.3 s): PDL launches only on the contiguous and page-17 layouts, the wide chain's second
# GEMV 4100 rows instead of 14336. Runs qkv_test and gemv_q_test.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res6; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target test_cuda_gemv_gemv_q_test test_cuda_qkv_qkv_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build
run() { timeout 250 "$@" > $R/$(basename $1).log 2>&1; echo "$(basename $1) rc $? $(grep -E '^\[  (PASSED|FAILED) |ms total\)$' $R/$(basename $1).log | tail -2 | tr '\n' ' ')"; }
export -f run; export R
printf '%s\n' "$B/tests/test_cuda_gemv_gemv_q_test" "$B/tests/test_cuda_qkv_qkv_test" | xargs -P 2 -L 1 bash -c 'run $0 $@'
grep -hE "^\[  FAILED|RopeKvWriteEveryVariant.*ms\)|WidePdlChain.*ms\)" $R/*.log | head
tar -czf $OUT/res6.tgz -C $R .
echo "total $((SECONDS-t0))s"
