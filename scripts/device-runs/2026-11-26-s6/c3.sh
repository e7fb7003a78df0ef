#!/usr/bin/env bash
# session 6 call 3 (H100): the measured row-tile rule + mma_wide_pdl. Builds klab + the GEMV
# test; gemv_q_test; `klab bench gemv` mma_wide / mma_wide_pdl at M = 16 on the 7B shapes; e2e
# Llama-2-7B Q4_0 / Q8_0 / F16 B=1,16 and Llama-3-8B Q4_0 B=1,16 (ctx 512), and 7B Q4_0 B=16
# with KLAB_CUDA_WIDE_ROWS=1 (the old one-tile blocks, PDL kept).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res3; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
K=/tmp/klab-build/bin/klab
timeout 150 /tmp/klab-build/tests/test_cuda_gemv_gemv_q_test > $R/gemv_q_test.log 2>&1; echo "gemv_q_test rc $? at $((SECONDS-t0))s"; grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests ran" $R/gemv_q_test.log | head
for v in mma_wide mma_wide_pdl; do
  timeout 40 $K bench --variant $v gemv --bits 4,8 --M 16 --N 12288,4096,4096,32000 --K 4096,4096,11008,4096 --json $R/gemv-$v.json > $R/gemv-$v.txt 2>&1
  timeout 30 $K bench --variant $v gemv --bits 4,8 --M 16 --N 11008 --K 4096 --epilogue swiglu --json $R/gemvsw-$v.json > $R/gemvsw-$v.txt 2>&1
  grep -hE "^bench: gemv" $R/gemv-$v.txt $R/gemvsw-$v.txt | cut -c7-100
done
timeout 200 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1,16 --ctx 512 --prompt 0 --json $R/e2e-7b.json > $R/e2e-7b.txt 2>&1; echo "e2e 7b rc $? at $((SECONDS-t0))s"
timeout 80 $K bench e2e --model llama3-8b --weights q4_0 --batch 1,16 --ctx 512 --prompt 0 --json $R/e2e-8b.json > $R/e2e-8b.txt 2>&1; echo "e2e 8b rc $? at $((SECONDS-t0))s"
KLAB_CUDA_WIDE_ROWS=1 timeout 60 $K bench e2e --model llama2-7b --weights q4_0 --batch 16 --ctx 512 --prompt 0 --json $R/e2e-7b-r1.json > $R/e2e-7b-r1.txt 2>&1; echo "e2e r1 rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-*.txt | cut -c1-140
tar -czf $OUT/res3.tgz -C $R .
echo "total $((SECONDS-t0))s"
