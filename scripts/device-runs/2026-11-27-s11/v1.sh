#!/usr/bin/env bash
# session 11 final call 1 (H100): full build of the session's final code (the kernels as in
# session 10; this session's kernel change was reverted; `klab bench decode-attn --pages` added)
# from the working tree (the log folders moved out so the first half of the model fits the carry),
# and the model's first half kept for v2, which runs every GPU test with the real model.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
t0=$SECONDS; cp .carry/model.a /tmp/m.a
rm -rf /tmp/snap && mkdir -p /tmp/snap && cp -r . /tmp/snap/ && cd /tmp/snap && rm -rf .carry
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error|warning" /tmp/build.log | head -10
echo "total $((SECONDS-t0))s"
