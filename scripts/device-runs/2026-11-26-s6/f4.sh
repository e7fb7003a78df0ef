#!/usr/bin/env bash
# session 6 final call 4 (H100): build klab + the engine session test from the working tree (the
# commit in .carry/commit) and keep the first half of the real model for f5.
set -uo pipefail
cp .carry/model.a /tmp/m.a
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -c --exclude=./.carry . | tar -x -C /tmp/snap
cd /tmp/snap; t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head
