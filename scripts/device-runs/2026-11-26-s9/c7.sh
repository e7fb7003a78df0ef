#!/usr/bin/env bash
# session 9 call 7 (H100): the dense PDL GEMV releasing its dependents when each block starts
# (the grid's trigger completes when its last block starts) instead of after its main loop.
# c6 timeline (F16 B=1): the one-block norms after the multi-wave dense GEMVs 8.25 us a layer
# (2.7 in the Q4_0 chain). Prediction: norms -> ~3-4 us a layer, F16 B=1 ctx 512 +2-3% (194.8 ->
# 199-201 tok/s). A/B: KLAB_CUDA_DENSE_TRIGGER=late. Then the final e2e matrix (7B Q4_0 / Q8_0 /
# F16, 8B Q4_0) on this commit.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc7; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_dense_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 120 $B/tests/test_cuda_gemv_gemv_dense_test > $R/dense.log 2>&1; echo "dense rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/dense.log | tr '\n' ' ')"
e2e() {  # name trigger args...
  local n=$1 tr=$2; shift 2
  KLAB_CUDA_DENSE_TRIGGER=$tr timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-$tr.json > $R/e2e-$n-$tr.txt 2>&1
  echo "$n trigger=$tr: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n-$tr.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for tr in start late start late; do e2e 7b-f16 $tr --model llama2-7b --weights f16 --batch 1; done
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights f16 --batch 1 --timeline $R/tl > $R/tl.txt 2>&1
grep -hE "timeline .*a step" $R/tl.txt | cut -c1-200; grep -E "^  " $R/tl.txt | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -10
timeout 200 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --json $R/e2e-llama2-7b.json > $R/e2e-llama2-7b.txt 2>&1; echo "e2e 7b rc $? at $((SECONDS-t0))s"
timeout 100 $K bench e2e --model llama3-8b --weights q4_0 --batch 1,16 --ctx 512,4096 --json $R/e2e-llama3-8b.json > $R/e2e-llama3-8b.txt 2>&1; echo "e2e 8b rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-llama*.txt | cut -c1-100
tar -czf $OUT/resc7.tgz -C $R .
echo "total $((SECONDS-t0))s"
