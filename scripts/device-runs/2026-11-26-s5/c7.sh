#!/usr/bin/env bash
# session 5 call 7: the mma_staged launch shape (warps per block) at the Llama-2-7B decode shapes,
# M = 1, 4 and 8 bits, forced through KLAB_CUDA_STAGED_WARPS = 4 / 8 / 16 against the rule (0),
# then e2e Llama-2-7B Q4_0 / Q8_0 B = 1 ctx 512 under each.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res7; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
K=/tmp/klab-build/bin/klab
for w in 0 4 8 16; do
  KLAB_CUDA_STAGED_WARPS=$w timeout 60 $K bench --variant mma_staged_pdl gemv --bits 4,8 --N 4096,12288,4096,14336 --K 4096,4096,11008,4096 --json $R/gemv-w$w.json > $R/gemv-w$w.txt 2>&1
  KLAB_CUDA_STAGED_WARPS=$w timeout 60 $K bench --variant mma_staged_pdl gemv --bits 4,8 --N 11008 --K 4096 --epilogue swiglu --json $R/gemvsw-w$w.json > $R/gemvsw-w$w.txt 2>&1
  echo "== warps $w at $((SECONDS-t0))s"; grep -hE "^bench: gemv" $R/gemv-w$w.txt $R/gemvsw-w$w.txt | cut -c7-110
done
for w in 0 8 16; do
  KLAB_CUDA_STAGED_WARPS=$w timeout 60 $K bench e2e --model llama2-7b --weights q4_0,q8_0 --batch 1 --ctx 512 --prompt 0 --json $R/e2e-w$w.json > $R/e2e-w$w.txt 2>&1
  echo "== e2e warps $w rc $? at $((SECONDS-t0))s"; grep -hE "^bench: e2e .*tokens/s" $R/e2e-w$w.txt | cut -c1-110
done
tar -czf $OUT/res7.tgz -C $R .
echo "total $((SECONDS-t0))s"
