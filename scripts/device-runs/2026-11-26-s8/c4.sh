#!/usr/bin/env bash
# session 8 call 4 (H100): the SwiGLU GEMV's ring depth chosen for one wave (mma_staged,
# KLAB_CUDA_STAGED_DEPTH forces 4 or 8). c3's timeline: 7B Q4_0 gate/up 21.4 us a layer for
# 16.9 us of bytes; at 8 deep its 688 blocks hold 4 an SM (1.3 waves). Prediction: 4 deep
# (6 an SM, one wave) 21.4 -> ~18 us a layer, 7B Q4_0 B=1 +5% (455 -> ~478 tok/s); 8B (896
# tiles: 1.7 waves at 8 deep, 1.13 at 4; auto keeps 8) forced 4: +3%.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res4; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test test_cuda_model_cuda_session_test test_cuda_fused_decode_fused_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 150 $B/tests/test_cuda_gemv_gemv_q_test --gtest_filter='*Swiglu*:*Spread*' > $R/gemv_q.log 2>&1; echo "gemv_q rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/gemv_q.log | tr '\n' ' ')"
KLAB_CUDA_STAGED_DEPTH=4 timeout 150 $B/tests/test_cuda_gemv_gemv_q_test --gtest_filter='*Swiglu*' > $R/gemv_q_d4.log 2>&1; echo "gemv_q forced 4 rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/gemv_q_d4.log | tr '\n' ' ')"
timeout 200 $B/tests/test_cuda_fused_decode_fused_decode_test > $R/fused.log 2>&1; echo "fused rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/fused.log | tr '\n' ' ') ($((SECONDS-t0))s)"
timeout 200 $B/tests/test_cuda_model_cuda_session_test > $R/session.log 2>&1; echo "session rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/session.log | tr '\n' ' ') ($((SECONDS-t0))s)"
e2e() {  # name depth args...
  local n=$1 d=$2; shift 2
  KLAB_CUDA_STAGED_DEPTH=$d timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-d$d.json > $R/e2e-$n-d$d.txt 2>&1
  echo "$n depth=$d: $(grep -hoE '[0-9.]+ tokens/s' $R/e2e-$n-d$d.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for d in auto 8 auto 8; do e2e 7b-q4 $d --model llama2-7b --weights q4_0 --batch 1,4; done
for d in 4 8 4 8; do e2e 8b-q4 $d --model llama3-8b --weights q4_0 --batch 1; done
for d in auto 8; do e2e 7b-q8 $d --model llama2-7b --weights q8_0 --batch 1; done
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 1 --timeline $R/tl > $R/tl.txt 2>&1
KLAB_CUDA_STAGED_DEPTH=4 timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama3-8b --weights q4_0 --batch 1 --timeline $R/tl-d4 > $R/tl8.txt 2>&1
grep -hE "timeline|^  " $R/tl.txt $R/tl8.txt | cut -c1-170 | head -30
tar -czf $OUT/res4.tgz -C $R .
echo "total $((SECONDS-t0))s"
