#!/usr/bin/env bash
# session 8 call 1 (H100): the session-7 commits never run on a GPU (gemv_dp4a's few-output
# floor, code_bytes()/scale_bytes()): the GEMV, dequant, glue/PDL, fused decode and engine
# session tests; where CUPTI lives on this machine; a 7B Q4_0 B=1 e2e baseline.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
find / -name 'libcupti.so*' -not -path '/proc/*' 2>/dev/null | head -5
find / -name 'cupti_activity.h' -not -path '/proc/*' 2>/dev/null | head -3
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
TS="test_cuda_gemv_gemv_dp4a_test test_cuda_gemv_gemv_q_test test_cuda_dequant_dequant_test test_cuda_model_glue_pdl_test test_cuda_model_glue_test test_cuda_fused_decode_fused_decode_test test_cuda_model_cuda_session_test"
ls tests/cuda/dequant tests/cuda/fused_decode tests/model 2>/dev/null | tr '\n' ' '; echo
cmake --build /tmp/klab-build -j16 --target klab_cli $TS > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
for t in $TS; do
  [ -x $B/tests/$t ] || { echo "missing $t"; continue; }
  timeout 200 $B/tests/$t > $R/$t.log 2>&1; echo "$t rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$t.log | tr '\n' ' ') ($((SECONDS-t0))s)"
done
timeout 60 $K bench e2e --prompt 0 --model llama2-7b --weights q4_0 --batch 1 --ctx 512 > $R/e2e.txt 2>&1; grep -hoE '[0-9.]+ tokens/s' $R/e2e.txt | head -2
tar -czf $OUT/res1.tgz -C $R .
echo "total $((SECONDS-t0))s"
