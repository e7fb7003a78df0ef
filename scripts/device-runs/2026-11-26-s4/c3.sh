#!/usr/bin/env bash
# session 4 call 3: mma_wide (wide decode batches) — the GEMV tests, the engine's batch tests,
# and the e2e batch-16 cases against batch 1.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=$OUT; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test test_cuda_model_batch_decode_test test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head
B=/tmp/klab-build; K=$B/bin/klab
for t in gemv_gemv_q_test model_batch_decode_test model_cuda_session_test; do
  timeout 150 $B/tests/test_cuda_$t --gtest_brief=1 > $R/$t.log 2>&1; echo "$t rc $? $(grep -E '^\[  (PASSED|FAILED)' $R/$t.log | tr '\n' ' ')"; grep -A3 -E "Failure" $R/$t.log | head -12
done
echo "at $((SECONDS-t0))s"
timeout 200 $K bench e2e --model llama2-7b,llama3-8b --weights q4_0,q8_0 --batch 1,16 --ctx 512 --prompt 0 --json $R/e2e.json > $R/e2e.txt 2>&1; echo "e2e rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e.txt | cut -c1-150
echo "total $((SECONDS-t0))s"
