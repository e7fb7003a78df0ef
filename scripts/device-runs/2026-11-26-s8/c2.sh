#!/usr/bin/env bash
# session 8 call 2 (H100): the in-graph kernel timeline (klab bench e2e --timeline, CUPTI) of
# the decode step: Llama-2-7B Q4_0 / Q8_0 / F16 at B=1 and 16, Llama-3-8B Q4_0 B=1, ctx 512;
# the timed (untraced) numbers of the same cases in the same runs.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res2; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
K=/tmp/klab-build/bin/klab
timeout 200 $K bench e2e --prompt 0 --model llama2-7b --weights q4_0,q8_0,f16 --batch 1,16 --ctx 512 --timeline $R/tl --json $R/e2e-7b.json > $R/e2e-7b.txt 2>&1; echo "7b rc $? ($((SECONDS-t0))s)"
timeout 120 $K bench e2e --prompt 0 --model llama3-8b --weights q4_0 --batch 1 --ctx 512 --timeline $R/tl --json $R/e2e-8b.json > $R/e2e-8b.txt 2>&1; echo "8b rc $? ($((SECONDS-t0))s)"
grep -hE "timeline|tokens/s|^  " $R/e2e-7b.txt $R/e2e-8b.txt | cut -c1-170 | head -120
tar -czf $OUT/res2.tgz -C $R .
echo "total $((SECONDS-t0))s"
