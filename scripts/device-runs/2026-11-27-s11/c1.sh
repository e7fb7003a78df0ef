#!/usr/bin/env bash
# session 11 call 1 (H100): re-measure the q8-activation GEMV (dp4a_pdl, llama.cpp's MMVQ
# numerics) against auto, end to end and per kernel. Last measured in session 4 on an H200
# (519.7 vs 451.2 tok/s, 7B Q4_0 B=1), before sessions 5-10 moved auto to 504 tok/s on the H100.
# Forced through KLAB_CUDA_GEMV the engine runs the chain (norm kernel + GEMV + qkv split), so
# this measures dp4a without the fused QKV epilogue. Prediction: 7B Q4_0 B=1 dp4a_pdl 500-540
# (auto ~504): the GEMV kernels were 0-13% faster on the H200, the chain costs ~3-4 us a layer of
# split + norm that staged folds. Decides whether a fused dp4a decode block is worth building.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
for v in dp4a_pdl mma_staged_pdl mma_async_pdl; do
  timeout 120 $K bench gemv --bits 4,8 --M 1 --N 12288,4096,4096 --K 4096,4096,11008 --variant $v --json $R/gemv-$v.json > $R/gemv-$v.txt 2>&1
  echo "gemv $v: $(grep -oE '\] +[0-9.]+ us' $R/gemv-$v.txt | tr -s ' ' | tr '\n' ' ') ($((SECONDS-t0))s)"
  timeout 120 $K bench gemv --bits 4,8 --M 1 --N 11008 --K 4096 --epilogue swiglu --variant $v --json $R/gemv-swiglu-$v.json > $R/gemv-swiglu-$v.txt 2>&1
  echo "swiglu $v: $(grep -oE '\] +[0-9.]+ us' $R/gemv-swiglu-$v.txt | tr -s ' ' | tr '\n' ' ')"
done
e2e() {  # name gemv args...
  local n=$1 g=$2; shift 2
  KLAB_CUDA_GEMV=$g timeout 90 $K bench e2e --prompt 0 --ctx 512 "$@" --json $R/e2e-$n-$g.json > $R/e2e-$n-$g.txt 2>&1
  echo "$n gemv=$g: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-$n-$g.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
}
for g in auto dp4a_pdl auto dp4a_pdl; do e2e 7b-q4_0 $g --model llama2-7b --weights q4_0 --batch 1; done
for g in auto dp4a_pdl; do e2e 7b-q8_0 $g --model llama2-7b --weights q8_0 --batch 1; done
for g in auto dp4a_pdl; do e2e 8b-q4_0 $g --model llama3-8b --weights q4_0 --batch 1; done
KLAB_CUDA_GEMV=dp4a_pdl timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 1 --timeline $R/tl > $R/tl.txt 2>&1
grep -hE "timeline .*a step" $R/tl.txt | cut -c1-200; grep -E "^  " $R/tl.txt | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -14
tar -czf $OUT/resc1.tgz -C $R .
echo "total $((SECONDS-t0))s"
