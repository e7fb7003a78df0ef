#!/usr/bin/env bash
# session 5 call 4: the `staged` fused decode blocks (RMSNorm folded into mma_staged; QKV with the
# RoPE + KV-write epilogue for interleaved RoPE) and the engine's new default: build, the fused /
# GEMV / session / batch / decode tests, then e2e with fused blocks on (default) and off.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
cp .carry/model.a /tmp/m.a 2>/dev/null
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res4; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
T="klab_cli test_cuda_fused_decode_fused_decode_test test_cuda_gemv_gemv_q_test test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test test_cuda_attn_decode_decode_test test_cuda_qkv_qkv_test"
cmake --build /tmp/klab-build -j16 --target $T > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
run_test() {  # run_test BINARY SECONDS [FILTER]
  timeout $2 $B/tests/$1 --gtest_brief=1 --gtest_filter="${3:-*}" > $R/$1.log 2>&1
  echo "$1 rc $? $(grep -E '^\[  (PASSED|FAILED)|tests? from .* ran' $R/$1.log | tr '\n' ' ' | cut -c1-150) at $((SECONDS-t0))s"
  grep -B3 -A10 "Failure" $R/$1.log | head -40
}
run_test test_cuda_fused_decode_fused_decode_test 120
run_test test_cuda_model_cuda_session_test 120 '-*RealModel*'
run_test test_cuda_model_batch_decode_test 90
run_test test_cuda_qkv_qkv_test 60
run_test test_cuda_gemv_gemv_q_test 120
run_test test_cuda_attn_decode_decode_test 120
for f in default 0; do
  if [ $f = default ]; then unset KLAB_CUDA_FUSED; else export KLAB_CUDA_FUSED=0; fi
  timeout 100 $K bench e2e --model llama2-7b,llama3-8b --weights q4_0,q8_0 --batch 1 --ctx 512 --prompt 0 --json $R/e2e-fused-$f.json > $R/e2e-fused-$f.txt 2>&1; echo "e2e fused=$f rc $? at $((SECONDS-t0))s"
  grep -hE "^bench: e2e .*tokens/s|variant" $R/e2e-fused-$f.txt | cut -c1-120
done
unset KLAB_CUDA_FUSED
tar -czf $OUT/res4.tgz -C $R .
echo "total $((SECONDS-t0))s"
