#!/usr/bin/env bash
# session 12 call 4 (H100): the review refactor (staged.cpp's dense_params, views_overlap,
# check_given_rows) on the GPU: fused decode tests and the engine session tests.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc4; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target test_cuda_fused_decode_fused_decode_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
B=/tmp/klab-build/tests
for t in test_cuda_model_cuda_session_test test_cuda_fused_decode_fused_decode_test; do
  timeout 100 $B/$t > $R/$t.log 2>&1; echo "$t rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$t.log | tr '\n' ' ') ($((SECONDS-t0))s)"
  grep -E "^\[  FAILED  \]" $R/$t.log | head -5
done
tar -czf $OUT/resc4.tgz -C $R .
echo "total $((SECONDS-t0))s"
