#!/usr/bin/env bash
# session 7 call 4 (H100): the dense GEMV's PDL twin (vec16_multi_row_pdl: first weight loads
# before griddepcontrol.wait, dependents released after the main loop); the engine takes it for
# f16 weights. Tests: gemv_dense (every variant + the PDL chain), the engine session test;
# memcheck + racecheck of the chain; e2e F16 A/B against the plain variant
# (KLAB_CUDA_GEMV=vec16_multi_row: the previous behaviour for an all-f16 model).
# Prediction (before the run): Llama-2-7B F16 B=1 ctx 512 182 -> 188-192 tok/s (+3-5%).
# Ran on commit 3abaf89 (.carry/commit of the call); measured neutral, reverted in a92d80b.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res4; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_dense_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab; T=$B/tests/test_cuda_gemv_gemv_dense_test
timeout 200 $T > $R/dense-test.log 2>&1; echo "dense test rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/dense-test.log | tr '\n' ' ')"
timeout 200 $B/tests/test_cuda_model_cuda_session_test > $R/session-test.log 2>&1; echo "session test rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/session-test.log | tr '\n' ' ')"
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 99 $T --gtest_filter='*PdlChain*' > $R/san-memcheck.log 2>&1; echo "memcheck rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck.log)"
timeout 120 compute-sanitizer --tool racecheck --error-exitcode 99 $T --gtest_filter='*PdlChain*' > $R/san-racecheck.log 2>&1; echo "racecheck rc $? $(grep 'RACECHECK SUMMARY' $R/san-racecheck.log)"
e2e() {  # name variant args...
  local n=$1 v=$2; shift 2
  KLAB_CUDA_GEMV=$v timeout 90 $K bench e2e --prompt 0 "$@" --json $R/e2e-$n-$v.json > $R/e2e-$n-$v.txt 2>&1
  echo "$n $v: $(grep -hoE '[0-9.]+ tokens/s' $R/e2e-$n-$v.txt | head -4 | tr '\n' ' ') ($((SECONDS-t0))s)"
}
F="--model llama2-7b --weights f16"
e2e 7b-f16-a vec16_multi_row $F --batch 1 --ctx 512; e2e 7b-f16-a auto $F --batch 1 --ctx 512
e2e 7b-f16-b vec16_multi_row $F --batch 1,4 --ctx 512,4096; e2e 7b-f16-b auto $F --batch 1,4 --ctx 512,4096
tar -czf $OUT/res4.tgz -C $R .
echo "total $((SECONDS-t0))s"
