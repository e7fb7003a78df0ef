#!/usr/bin/env bash
# session 11 call 6 (H100): c5's folded F16 norms gained +0.9% at B=1 (197.9 / 198.8 vs 196.3 /
# 196.9) but B=4 measured ~494 tok/s in both modes (c2: 537 with the norm kernels). ptxas -v,
# run here offline: c5's run-time y_copy branch in every plain dense kernel moved the one-row
# kernel at 4 tokens from 63 to 69 registers (7 blocks an SM: the O / down GEMVs' 1,024 blocks in
# 1.1 waves) and the 4-row kernel at 2 tokens from 72 to 91. Now the copy has kernels of its own
# (the one-row one held to 8 blocks an SM) and the other kernels are as before (63 / 72).
# Prediction: B=4 back to ~537 with the norm kernels and ~540-545 folded; B=1 folded +1% (~198.5).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc6; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_dense_test test_cuda_fused_decode_fused_decode_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
t() {  # name binary timeout [filter]
  local n=$1 bin=$2 to=$3; shift 3
  timeout $to $B/tests/$bin "$@" > $R/$n.log 2>&1; echo "$n rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$n.log | tr '\n' ' ') ($((SECONDS-t0))s)"
  grep -E "^\[  FAILED  \]|Failure|exception" $R/$n.log | head -8
}
t dense test_cuda_gemv_gemv_dense_test 120
t fused test_cuda_fused_decode_fused_decode_test 120 --gtest_filter='*Dense*:*Unnormed*:*LayerChain*'
t session test_cuda_model_cuda_session_test 120 --gtest_filter='*Staged*:*Float*'
e2e() {  # name mode args...
  local n=$1 m=$2; shift 2
  KLAB_CUDA_DENSE_NORM=$m timeout 120 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-$m.json > $R/e2e-$n-$m.txt 2>&1
  echo "$n norm=$m: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n-$m.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for m in fold kernel fold kernel; do e2e 7b-f16 $m --model llama2-7b --weights f16 --batch 1,4; done
tar -czf $OUT/resc6.tgz -C $R .
echo "total $((SECONDS-t0))s"
