#!/usr/bin/env bash
# session 9 call 6 (H100): the dense f16 GEMV under PDL (vec16_multi_row_pdl, auto's twin in the
# engine's decode chain). Session-8 timeline, Llama-2-7B F16 B=1: 121 us a step with no kernel
# running, norms 5.9 us a layer against 2.7 in the PDL'd Q4_0 chain. Prediction: idle ~121 -> ~30
# us a step and the norms ~2 us a layer shorter: F16 B=1 ctx 512 +2-4% (186.7 -> 191-194 tok/s,
# 82.8 -> 85-86% of the bound; target 88). A/B: KLAB_CUDA_GEMV=vec16_multi_row (no PDL) vs auto.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc6; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_dense_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
run() { timeout 250 "$@" > $R/$(basename $1).log 2>&1; echo "$(basename $1) rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$(basename $1).log | tr '\n' ' ')"; }
export -f run; export R
printf '%s\n' "$B/tests/test_cuda_gemv_gemv_dense_test" "$B/tests/test_cuda_model_cuda_session_test" | xargs -P 2 -L 1 bash -c 'run $0 $@'
echo "tests done at $((SECONDS-t0))s"
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 99 $B/tests/test_cuda_gemv_gemv_dense_test --gtest_filter='*Pdl*' > $R/san-memcheck-dense-pdl.log 2>&1; echo "memcheck rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck-dense-pdl.log)"
e2e() {  # name variant args...
  local n=$1 v=$2; shift 2
  KLAB_CUDA_GEMV=$v timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-$v.json > $R/e2e-$n-$v.txt 2>&1
  echo "$n gemv=$v: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n-$v.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for v in auto vec16_multi_row auto vec16_multi_row; do e2e 7b-f16 $v --model llama2-7b --weights f16 --batch 1,4; done
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights f16 --batch 1 --timeline $R/tl > $R/tl.txt 2>&1
grep -hE "timeline .*a step" $R/tl.txt | cut -c1-160; grep -E "^  " $R/tl.txt | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -10
tar -czf $OUT/resc6.tgz -C $R .
echo "total $((SECONDS-t0))s"
