#!/usr/bin/env bash
# session 10 call 1 (H100): (a) verifies session 9's last review commit (cluster helpers moved,
# mma_wide_staged static smem assert, dense launcher lambda), never run on a GPU: gemv_dense,
# gemv_q WideStaged, decode attention cluster tests; (b) the dense QKV GEMV with the QKV epilogue
# (bias, interleaved RoPE, q and the KV rows from the GEMV's lanes) in the F16 decode chain
# instead of dense GEMV + qkv_token_split. Prediction: the split kernel's 4.2 us a layer (s9
# c10 timeline) goes, the GEMV's epilogue costs ~0.3: 7B F16 B=1 ctx 512 +2-2.5% (196 ->
# ~200 tok/s, 86.6 -> ~88.5% of the bound); B=4 +1-2%. A/B: KLAB_CUDA_DENSE_QKV=chain.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_dense_test test_cuda_gemv_gemv_q_test test_cuda_attn_decode_decode_test test_cuda_fused_decode_fused_decode_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
t() {  # name binary timeout [filter]
  local n=$1 bin=$2 to=$3; shift 3
  timeout $to $B/tests/$bin "$@" > $R/$n.log 2>&1; echo "$n rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$n.log | tr '\n' ' ') ($((SECONDS-t0))s)"
}
t fused test_cuda_fused_decode_fused_decode_test 200
t dense test_cuda_gemv_gemv_dense_test 120
t session test_cuda_model_cuda_session_test 240
t gemvq-wide test_cuda_gemv_gemv_q_test 200 --gtest_filter='*Wide*'
t decode-cluster test_cuda_attn_decode_decode_test 240 --gtest_filter='*Cluster*'
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 99 $B/tests/test_cuda_fused_decode_fused_decode_test --gtest_filter='*Dense*:*Unaddressable*' > $R/san-memcheck-fused-dense.log 2>&1; echo "memcheck rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck-fused-dense.log)"
e2e() {  # name mode args...
  local n=$1 m=$2; shift 2
  KLAB_CUDA_DENSE_QKV=$m timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-$m.json > $R/e2e-$n-$m.txt 2>&1
  echo "$n qkv=$m: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n-$m.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for m in fused chain fused chain; do e2e 7b-f16 $m --model llama2-7b --weights f16 --batch 1,4; done
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights f16 --batch 1 --timeline $R/tl > $R/tl.txt 2>&1
grep -hE "timeline .*a step" $R/tl.txt | cut -c1-200; grep -E "^  " $R/tl.txt | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -12
tar -czf $OUT/resc1.tgz -C $R .
echo "total $((SECONDS-t0))s"
