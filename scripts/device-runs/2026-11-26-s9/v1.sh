#!/usr/bin/env bash
# session 9 final call 1 (H100): full build of the final tree (the working tree; the model's
# first half carried for v2, so the log folders were moved out of the tree for v1 and v2); the
# F16 e2e matrix with the final dense path (late release: c6 / c8); the default real model's e2e.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
cp .carry/model.a /tmp/m.a
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -c --exclude=./.carry . | tar -x -C /tmp/snap
cd /tmp/snap; R=/tmp/resv1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 -- -k 0 > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error|warning" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 150 $K bench e2e --model llama2-7b --weights f16 --json $R/e2e-llama2-7b-f16.json > $R/e2e-llama2-7b-f16.txt 2>&1; echo "e2e 7b f16 rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-*.txt | cut -c1-100
tar -czf $OUT/resv1.tgz -C $R .
echo "total $((SECONDS-t0))s"
