#!/usr/bin/env bash
# session 9 call 10 (H100, final dense rule): a one-token dense PDL GEMV releases its dependents
# at the start of its last main-loop iteration, wider ones after the loop (c9: +0.8% at B=1,
# -1% at B=4 when every GEMV did). Prediction: B=1 as c9 (+0.5-1% over late), B=4 equal to
# late (same code path). Tests: gemv_dense, engine session.
# A/B: KLAB_CUDA_DENSE_TRIGGER=late.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc10; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_dense_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 120 $B/tests/test_cuda_gemv_gemv_dense_test > $R/dense.log 2>&1; echo "dense rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/dense.log | tr '\n' ' ')"
timeout 200 $B/tests/test_cuda_model_cuda_session_test > $R/session.log 2>&1; echo "session rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/session.log | tr '\n' ' ')"
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 99 $B/tests/test_cuda_gemv_gemv_dense_test --gtest_filter='*Pdl*' > $R/san-memcheck-dense-pdl.log 2>&1; echo "memcheck rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck-dense-pdl.log)"
e2e() {  # name trigger args...
  local n=$1 tr=$2; shift 2
  KLAB_CUDA_DENSE_TRIGGER=$tr timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-$tr.json > $R/e2e-$n-$tr.txt 2>&1
  echo "$n trigger=$tr: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n-$tr.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for tr in rule late rule late; do e2e 7b-f16 $tr --model llama2-7b --weights f16 --batch 1,4; done
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights f16 --batch 1 --timeline $R/tl > $R/tl.txt 2>&1
grep -hE "timeline .*a step" $R/tl.txt | cut -c1-200; grep -E "^  " $R/tl.txt | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -10
tar -czf $OUT/resc10.tgz -C $R .
echo "total $((SECONDS-t0))s"
