#!/usr/bin/env bash
# session 6 final call 3 (H100, fresh machine: builds klab): `klab bench e2e` Llama-2-7B Q4_0 /
# Q8_0 / F16 x batch 1, 4, 16 x ctx 512, 4096 + prefill 512, and Llama-3-8B Q4_0 batch 1, 16.
# (The attention kernels did not change this session: their session-5 results stand.)
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cmake -S /tmp/snap -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $?"
B=/tmp/klab-build; K=$B/bin/klab; cd /tmp/snap; t0=$SECONDS
R=/tmp/resf3; rm -rf $R; mkdir -p $R
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 260 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --json $R/e2e-llama2-7b.json > $R/e2e-llama2-7b.txt 2>&1; echo "e2e 7b rc $? at $((SECONDS-t0))s"
timeout 100 $K bench e2e --model llama3-8b --weights q4_0 --batch 1,16 --ctx 512 --json $R/e2e-llama3-8b.json > $R/e2e-llama3-8b.txt 2>&1; echo "e2e 8b rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-*.txt | cut -c1-130
tar -czf $OUT/resf3.tgz -C $R .
echo "total $((SECONDS-t0))s"
