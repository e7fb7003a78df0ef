#!/usr/bin/env bash
# session 10 final call 1 (H100): full build of the final tree (the working tree; the model's
# first half carried for v2, so the log folders were moved out of the tree for v1 and v2).
# (a) A/B of the release point of the dense QKV epilogue GEMV (c3: attention 10.3 us a layer
# after it, 8.3 after the split kernel in s9 c10). Prediction for KLAB_CUDA_QKV_TRIGGER=late
# (release after the loop instead of before the last iteration): attention back to ~9 us a
# layer, the GEMV ~0.5 us slower: +0-0.5% at 7B F16 B=1. Against the chain (KLAB_CUDA_DENSE_QKV=
# chain): +1.3% (c3). (b) the F16 e2e matrix with the final path, JSON for PERFORMANCE.md.
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
e2e() {  # name env=value args...
  local n=$1 ev=$2; shift 2
  env $ev timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n.json > $R/e2e-$n.txt 2>&1
  echo "$n ($ev): $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for i in 1 2; do
  e2e f16-rule-$i KLAB_CUDA_QKV_TRIGGER=rule --model llama2-7b --weights f16 --batch 1
  e2e f16-qkvlate-$i KLAB_CUDA_QKV_TRIGGER=late --model llama2-7b --weights f16 --batch 1
  e2e f16-chain-$i KLAB_CUDA_DENSE_QKV=chain --model llama2-7b --weights f16 --batch 1
done
KLAB_CUDA_QKV_TRIGGER=late timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights f16 --batch 1 --timeline $R/tl-late > $R/tl-late.txt 2>&1
grep -hE "timeline .*a step" $R/tl-late.txt | cut -c1-120; grep -E "^  " $R/tl-late.txt | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -6
timeout 150 $K bench e2e --model llama2-7b --weights f16 --json $R/e2e-llama2-7b-f16.json > $R/e2e-llama2-7b-f16.txt 2>&1; echo "e2e 7b f16 rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-llama2-7b-f16.txt | cut -c1-110
tar -czf $OUT/resv1.tgz -C $R .
echo "total $((SECONDS-t0))s"
