#!/usr/bin/env bash
# session 8 call 6 (H100): (a) the dense f16 GEMV at small N one row a warp
# (KLAB_CUDA_DENSE_ROWS=4: the old 4). c2 timeline, 7B F16 B=1: O + down (N = 4096, 1,024 warps)
# 53.9 us a layer for 41.3 us of bytes. Prediction: ~43 us, F16 B=1 +6-7% (~182 -> ~194 tok/s).
# (b) mma_staged's one-wave search (KLAB_CUDA_STAGED_ONE_WAVE=0: off): 8-bit QKV at 4 warps
# (7 blocks an SM: one wave of 768) and 8-bit gate/up at 4 warps / 4 deep. Prediction: 7B Q8_0
# B=1 +3-6%; 4-bit shapes unchanged (same shapes as c5).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res6; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test test_cuda_gemv_gemv_dense_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 100 $B/tests/test_cuda_gemv_gemv_dense_test > $R/dense.log 2>&1; echo "dense rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/dense.log | tr '\n' ' ')"
timeout 150 $B/tests/test_cuda_gemv_gemv_q_test --gtest_filter='*OneWave*:*Swiglu*:*Spread*:*Residual*' > $R/gemv_q.log 2>&1; echo "gemv_q rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/gemv_q.log | tr '\n' ' ') ($((SECONDS-t0))s)"
timeout 200 $B/tests/test_cuda_model_cuda_session_test > $R/session.log 2>&1; echo "session rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/session.log | tr '\n' ' ') ($((SECONDS-t0))s)"
e2e() {  # name env args...
  local n=$1 e=$2; shift 2
  env $e timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-${e#*=}.json > $R/e2e-$n-${e#*=}.txt 2>&1
  echo "$n $e: $(grep -hoE '[0-9.]+ tokens/s' $R/e2e-$n-${e#*=}.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for e in KLAB_CUDA_DENSE_ROWS=auto KLAB_CUDA_DENSE_ROWS=4 KLAB_CUDA_DENSE_ROWS=auto KLAB_CUDA_DENSE_ROWS=4; do e2e 7b-f16 $e --model llama2-7b --weights f16 --batch 1; done
for e in KLAB_CUDA_STAGED_ONE_WAVE=1 KLAB_CUDA_STAGED_ONE_WAVE=0 KLAB_CUDA_STAGED_ONE_WAVE=1 KLAB_CUDA_STAGED_ONE_WAVE=0; do e2e 7b-q8 $e --model llama2-7b --weights q8_0 --batch 1,4; done
e2e 7b-q4 KLAB_CUDA_STAGED_ONE_WAVE=1 --model llama2-7b --weights q4_0 --batch 1
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights f16,q8_0 --batch 1 --timeline $R/tl > $R/tl.txt 2>&1
grep -hE "timeline|^  " $R/tl.txt | cut -c1-170 | head -30
tar -czf $OUT/res6.tgz -C $R .
echo "total $((SECONDS-t0))s"
