#!/usr/bin/env bash
# session 5 final call 4: the engine tests (without the real model) on the review commit.
set -uo pipefail
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap && cd /tmp/snap
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test > /tmp/build.log 2>&1; echo "build rc $? in ${SECONDS}s"
for t in test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test; do
  timeout 90 /tmp/klab-build/tests/$t --gtest_brief=1 --gtest_filter='-*RealModel*' 2>&1 | grep -E "^\[  (PASSED|FAILED|SKIPPED)|Failure" | head -5 | sed "s/^/$t: /"
done
