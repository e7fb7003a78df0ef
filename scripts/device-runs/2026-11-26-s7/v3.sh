#!/usr/bin/env bash
# session 7 final call 3 (H100): full build of the final working tree (the commit in
# .carry/commit; the model's first half carried for v4, the log folders moved out of the tree
# for v3 and v4 so that it fits the carry).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
cp .carry/model.a /tmp/m.a
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -c --exclude=./.carry . | tar -x -C /tmp/snap
cd /tmp/snap; t0=$SECONDS
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 -- -k 0 > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error|warning" /tmp/build.log | head -10
echo "total $((SECONDS-t0))s"
