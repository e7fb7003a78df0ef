#!/usr/bin/env bash
# session 7 call 1 (H100): L2 prefetch of the O weights and the gate/up heads between the QKV
# block and the decode attention (KLAB_CUDA_L2_PREFETCH = MiB). Builds klab + the prefetch test
# + the engine session test; runs them (session test with the prefetch on), memcheck of the
# prefetch test; e2e sweep of the budget at 7B Q4_0 B=1 ctx 512, then off vs 24 MiB at the other
# shapes.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_model_l2_prefetch_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab; T=$B/tests/test_cuda_model_l2_prefetch_test
timeout 60 $T > $R/l2-test.log 2>&1; echo "l2 test rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/l2-test.log | tr '\n' ' ')"
KLAB_CUDA_L2_PREFETCH=24 timeout 200 $B/tests/test_cuda_model_cuda_session_test > $R/session-test.log 2>&1; echo "session test (prefetch 24) rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/session-test.log | tr '\n' ' ')"
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 99 $T > $R/san-memcheck.log 2>&1; echo "memcheck rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck.log)"
e2e() {  # name mib args...
  local n=$1 mb=$2; shift 2
  KLAB_CUDA_L2_PREFETCH=$mb timeout 60 $K bench e2e --prompt 0 "$@" --json $R/e2e-$n-p$mb.json > $R/e2e-$n-p$mb.txt 2>&1
  echo "$n prefetch $mb: $(grep -hoE '[0-9.]+ tokens/s' $R/e2e-$n-p$mb.txt | head -3 | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for mb in off 10 16 24 32 48; do e2e 7b-q4 $mb --model llama2-7b --weights q4_0 --batch 1 --ctx 512; done
for mb in off 24; do
  e2e 7b-q4-b16 $mb --model llama2-7b --weights q4_0 --batch 16 --ctx 512
  e2e 7b-q4-c4k $mb --model llama2-7b --weights q4_0 --batch 1 --ctx 4096
  e2e 8b-q4 $mb --model llama3-8b --weights q4_0 --batch 1 --ctx 512
  e2e 7b-q8 $mb --model llama2-7b --weights q8_0 --batch 1 --ctx 512
  e2e 7b-f16 $mb --model llama2-7b --weights f16 --batch 1 --ctx 512
done
tar -czf $OUT/res1.tgz -C $R .
echo "total $((SECONDS-t0))s"
