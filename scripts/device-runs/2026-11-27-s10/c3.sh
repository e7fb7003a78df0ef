#!/usr/bin/env bash
# session 10 call 3 (H100): the dense QKV epilogue, third version. c2 (one lane a (token, row),
# its slot with cache address and RoPE angle computed after the PDL wait) gained 3.4% at B=4 but
# lost 2.7% at B=1: ptxas put the MT=1 4-row kernel at 96 registers (60 without the epilogue), 5
# blocks an SM, 768 blocks in 1.16 waves (QKV 38.4 us a layer). Now only the five scalar inputs
# (position, sequence, inv_freq, bias pair) are loaded early; angle and cache address after the
# loop: 64 registers, one wave. mma_staged's tile epilogue shares the same two helpers (its
# kernels: 64 registers as before, the three 4-byte spills gone). Prediction: QKV GEMV ~32.5 us
# a layer; 7B F16 B=1 +2% over the chain (~199-200 tok/s), B=4 +3% (as c2). Q4_0 / Q8_0 B=1
# unchanged from s9 c7 (497 / 329 tok/s) within ~1%. A/B: KLAB_CUDA_DENSE_QKV=chain.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc3; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_dense_test test_cuda_fused_decode_fused_decode_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
t() {  # name binary timeout [filter]
  local n=$1 bin=$2 to=$3; shift 3
  timeout $to $B/tests/$bin "$@" > $R/$n.log 2>&1; echo "$n rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$n.log | tr '\n' ' ') ($((SECONDS-t0))s)"
}
t fused test_cuda_fused_decode_fused_decode_test 200 --gtest_filter='*Qkv*'
t dense test_cuda_gemv_gemv_dense_test 120
t session test_cuda_model_cuda_session_test 240
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 99 $B/tests/test_cuda_fused_decode_fused_decode_test --gtest_filter='*Dense*:*Unaddressable*' > $R/san-memcheck-fused-dense.log 2>&1; echo "memcheck rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck-fused-dense.log)"
e2e() {  # name mode args...
  local n=$1 m=$2; shift 2
  KLAB_CUDA_DENSE_QKV=$m timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-$m.json > $R/e2e-$n-$m.txt 2>&1
  echo "$n qkv=$m: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n-$m.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for m in fused chain fused chain; do e2e 7b-f16 $m --model llama2-7b --weights f16 --batch 1,4; done
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights f16 --batch 1 --timeline $R/tl > $R/tl.txt 2>&1
grep -hE "timeline .*a step" $R/tl.txt | cut -c1-200; grep -E "^  " $R/tl.txt | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -12
e2e 7b-q4_0 fused --model llama2-7b --weights q4_0 --batch 1
e2e 7b-q8_0 fused --model llama2-7b --weights q8_0 --batch 1
tar -czf $OUT/resc3.tgz -C $R .
echo "total $((SECONDS-t0))s"
