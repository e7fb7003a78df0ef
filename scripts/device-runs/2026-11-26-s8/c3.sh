#!/usr/bin/env bash
# session 8 call 3 (H100): the O projection's blocks spread over all SMs (GemvArgs::spread,
# KLAB_CUDA_O_SPREAD). The c2 timeline put the O GEMV at 9.88 us a layer after the attention
# ends (7B Q4_0 B=1; 3.1 us of bytes, 6.2 in isolation), its blocks launched (PDL) onto the 36
# SMs the 96-CTA attention leaves free. Prediction: O 9.88 -> ~6.5 us a layer, 7B Q4_0 B=1
# +4-5% (416 -> ~436 tok/s), 8B Q4_0 +1-2%, 7B Q8_0 +1-2%, F16 unchanged (dense O).
# Tests: gemv_q (spread + residual), the engine session test (greedy == CPU).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res3; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 120 $B/tests/test_cuda_gemv_gemv_q_test --gtest_filter='*Spread*:*ResidualEpilogue*:*PdlChain*' > $R/gemv_q.log 2>&1; echo "gemv_q rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/gemv_q.log | tr '\n' ' ')"
timeout 200 $B/tests/test_cuda_model_cuda_session_test > $R/session.log 2>&1; echo "session rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/session.log | tr '\n' ' ') ($((SECONDS-t0))s)"
e2e() {  # name spread args...
  local n=$1 sp=$2; shift 2
  KLAB_CUDA_O_SPREAD=$sp timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-s$sp.json > $R/e2e-$n-s$sp.txt 2>&1
  echo "$n spread=$sp: $(grep -hoE '[0-9.]+ tokens/s' $R/e2e-$n-s$sp.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for sp in 1 0 1 0; do e2e 7b-q4 $sp --model llama2-7b --weights q4_0 --batch 1,4; done
for sp in 1 0; do e2e 8b-q4 $sp --model llama3-8b --weights q4_0 --batch 1; e2e 7b-q8 $sp --model llama2-7b --weights q8_0 --batch 1; done
KLAB_CUDA_O_SPREAD=1 timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 1 --timeline $R/tl > $R/tl.txt 2>&1
grep -hE "timeline|^  " $R/tl.txt | cut -c1-170 | head -14
tar -czf $OUT/res3.tgz -C $R .
echo "total $((SECONDS-t0))s"
