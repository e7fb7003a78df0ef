#!/usr/bin/env bash
# session 7 call 2 (H100): the L2 prefetch issued from the fused QKV GEMV's last blocks after
# their main loop (GemvParams::l2_after) instead of a kernel of its own (c1: the extra kernel
# cost ~5 us a layer). Tests: prefetch test, fused decode test (staged QKV with l2_after),
# engine session test with the prefetch on; memcheck of the staged QKV cases; e2e sweep.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res2; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_model_l2_prefetch_test test_cuda_model_cuda_session_test test_cuda_fused_decode_fused_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab; F=$B/tests/test_cuda_fused_decode_fused_decode_test
timeout 60 $B/tests/test_cuda_model_l2_prefetch_test > $R/l2-test.log 2>&1; echo "l2 test rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/l2-test.log | tr '\n' ' ')"
timeout 200 $F > $R/fused-test.log 2>&1; echo "fused test rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/fused-test.log | tr '\n' ' ')"
KLAB_CUDA_L2_PREFETCH=16 timeout 200 $B/tests/test_cuda_model_cuda_session_test > $R/session-test.log 2>&1; echo "session test (prefetch 16) rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/session-test.log | tr '\n' ' ')"
timeout 200 compute-sanitizer --tool memcheck --error-exitcode 99 $F --gtest_filter='*StagedNormQkv*' > $R/san-memcheck.log 2>&1; echo "memcheck rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck.log)"
e2e() {  # name env... -- args...
  local n=$1; shift; local envs=(); while [ "$1" != "--" ]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" timeout 60 $K bench e2e --prompt 0 "$@" --json $R/e2e-$n.json > $R/e2e-$n.txt 2>&1
  echo "$n: $(grep -hoE '[0-9.]+ tokens/s' $R/e2e-$n.txt | head -3 | tr '\n' ' ') ($((SECONDS-t0))s)"
}
Q4="--model llama2-7b --weights q4_0 --batch 1 --ctx 512"
e2e 7b-q4-off KLAB_CUDA_L2_PREFETCH=off -- $Q4
e2e 7b-q4-kernel1 KLAB_CUDA_L2_PREFETCH=1 KLAB_CUDA_L2_PREFETCH_AT=kernel -- $Q4
for mb in 10 16 24 32; do e2e 7b-q4-tail$mb KLAB_CUDA_L2_PREFETCH=$mb -- $Q4; done
for nb in 33 264 768; do e2e 7b-q4-tail16-b$nb KLAB_CUDA_L2_PREFETCH=16 KLAB_CUDA_L2_PREFETCH_BLOCKS=$nb -- $Q4; done
e2e 7b-q4-off2 KLAB_CUDA_L2_PREFETCH=off -- $Q4
for mb in off 16; do
  e2e 7b-q4-c4k-$mb KLAB_CUDA_L2_PREFETCH=$mb -- --model llama2-7b --weights q4_0 --batch 1 --ctx 4096
  e2e 8b-q4-$mb KLAB_CUDA_L2_PREFETCH=$mb -- --model llama3-8b --weights q4_0 --batch 1 --ctx 512
  e2e 7b-q8-$mb KLAB_CUDA_L2_PREFETCH=$mb -- --model llama2-7b --weights q8_0 --batch 1 --ctx 512
done
tar -czf $OUT/res2.tgz -C $R .
echo "total $((SECONDS-t0))s"
