#!/usr/bin/env bash
# session 4 final call 5: the q8-activation GEMV (dp4a, back at the kernel c9 measured) end to end
# beside auto in the same call, with JSON for PERFORMANCE.md.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
K=/tmp/klab-build/bin/klab
for v in auto dp4a_pdl; do KLAB_CUDA_GEMV=$v timeout 60 $K bench e2e --model llama2-7b,llama3-8b --weights q4_0,q8_0 --batch 1 --ctx 512 --prompt 0 --json $OUT/e2e-gemv-$v.json > $OUT/e2e-gemv-$v.txt 2>&1; echo "e2e $v rc $?"; grep -hE "^bench: e2e .*tokens/s" $OUT/e2e-gemv-$v.txt | cut -c1-120; done
echo "total $((SECONDS-t0))s"
