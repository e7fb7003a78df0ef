#!/usr/bin/env bash
# session 6 call 2 (H100): mma_wide with R row tiles per block. Builds klab + the GEMV test;
# gemv_q_test (every R forced, the wide batches, everything else); `klab bench gemv` mma_wide at
# M = 16 on the 7B shapes with R chosen and forced to 1..4; e2e Llama-2-7B Q4_0 / Q8_0 B=1,16
# and Llama-3-8B Q4_0 B=1,16 (ctx 512).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res2; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
K=/tmp/klab-build/bin/klab
timeout 150 /tmp/klab-build/bin/test_cuda_gemv_gemv_q_test > $R/gemv_q_test.log 2>&1; echo "gemv_q_test rc $? at $((SECONDS-t0))s"; grep -E "^\[  (PASSED|FAILED) |FAILED|tests ran" $R/gemv_q_test.log | head
for r in auto 1 2 3 4; do
  if [ $r = auto ]; then unset KLAB_CUDA_WIDE_ROWS; else export KLAB_CUDA_WIDE_ROWS=$r; fi
  timeout 40 $K bench --variant mma_wide gemv --bits 4,8 --M 16 --N 12288,4096,4096,32000 --K 4096,4096,11008,4096 --json $R/gemv-r$r.json > $R/gemv-r$r.txt 2>&1
  timeout 30 $K bench --variant mma_wide gemv --bits 4,8 --M 16 --N 11008 --K 4096 --epilogue swiglu --json $R/gemvsw-r$r.json > $R/gemvsw-r$r.txt 2>&1
  echo "== rows $r at $((SECONDS-t0))s"; grep -hE "^bench: gemv" $R/gemv-r$r.txt $R/gemvsw-r$r.txt | cut -c7-100
done
unset KLAB_CUDA_WIDE_ROWS
timeout 150 $K bench e2e --model llama2-7b --weights q4_0,q8_0 --batch 1,16 --ctx 512 --prompt 0 --json $R/e2e-7b.json > $R/e2e-7b.txt 2>&1; echo "e2e 7b rc $? at $((SECONDS-t0))s"
timeout 80 $K bench e2e --model llama3-8b --weights q4_0 --batch 1,16 --ctx 512 --prompt 0 --json $R/e2e-8b.json > $R/e2e-8b.txt 2>&1; echo "e2e 8b rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-*.txt | cut -c1-140
tar -czf $OUT/res2.tgz -C $R .
echo "total $((SECONDS-t0))s"
