#!/usr/bin/env bash
# session 6 call 5 (H100): the decode step's breakdown inside the CUDA graph by ablation: `klab
# bench e2e` (ctx 512) with KLAB_CUDA_ABLATE naming one part at a time (and all of them), for
# Llama-2-7B Q4_0 B=1,16, Q8_0 / F16 B=1 and Llama-3-8B Q4_0 B=1. Step time minus the step time
# without a part = that part's cost in the graph, its launch gaps and PDL overlap included.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res5; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
K=/tmp/klab-build/bin/klab
timeout 60 /tmp/klab-build/tests/test_cuda_model_cuda_session_test --gtest_filter='*Ablate*:*FusedSwitch*' > $R/session_test.log 2>&1; echo "session test rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/session_test.log | tr '\n' ' ')"
all=qkv,attention,o_proj,gate_up,down,lm_head
for spec in "llama2-7b q4_0 1,16" "llama2-7b q8_0 1" "llama2-7b f16 1" "llama3-8b q4_0 1"; do
  set -- $spec
  for part in none qkv attention o_proj gate_up down lm_head $all; do
    if [ $part = none ]; then unset KLAB_CUDA_ABLATE; else export KLAB_CUDA_ABLATE=$part; fi
    tag=$1-$2-$(echo $part | cut -c1-12)
    timeout 60 $K bench e2e --model $1 --weights $2 --batch $3 --ctx 512 --prompt 0 --json $R/e2e-$tag.json > $R/e2e-$tag.txt 2>&1
    echo "$1 $2 ablate=$part: $(grep -hE '^bench: e2e .*tokens/s' $R/e2e-$tag.txt | sed -E 's/.*(B=[0-9]+).*\(median of [0-9]+ runs, ([0-9.]+ ms)\).*/\1 \2/' | tr '\n' ' ')"
  done
done
unset KLAB_CUDA_ABLATE
echo "at $((SECONDS-t0))s"
tar -czf $OUT/res5.tgz -C $R .
echo "total $((SECONDS-t0))s"
