#!/usr/bin/env bash
# session 6 call 4 (H100): mma_wide rows kernel with the two-blocks launch bound. Builds klab +
# the GEMV test; the wide GEMV tests; `klab bench gemv` mma_wide_pdl M = 16 at the 7B shapes,
# rule vs R = 1; e2e Llama-2-7B Q4_0 / Q8_0 B = 1, 16 (rule) and B = 16 with R = 1.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res4; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
K=/tmp/klab-build/bin/klab
timeout 150 /tmp/klab-build/tests/test_cuda_gemv_gemv_q_test --gtest_filter='*Wide*:*Swiglu*:*Pdl*' > $R/gemv_q_test.log 2>&1; echo "gemv_q_test rc $? at $((SECONDS-t0))s"; grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests ran" $R/gemv_q_test.log | head
for r in rule 1; do
  if [ $r = rule ]; then unset KLAB_CUDA_WIDE_ROWS; else export KLAB_CUDA_WIDE_ROWS=$r; fi
  timeout 40 $K bench --variant mma_wide_pdl gemv --bits 4,8 --M 16 --N 12288,4096,4096,32000 --K 4096,4096,11008,4096 --json $R/gemv-$r.json > $R/gemv-$r.txt 2>&1
  echo "== rows $r"; grep -hE "^bench: gemv" $R/gemv-$r.txt | cut -c7-100
done
unset KLAB_CUDA_WIDE_ROWS
timeout 150 $K bench e2e --model llama2-7b --weights q4_0,q8_0 --batch 1,16 --ctx 512 --prompt 0 --json $R/e2e-7b.json > $R/e2e-7b.txt 2>&1; echo "e2e 7b rc $? at $((SECONDS-t0))s"
KLAB_CUDA_WIDE_ROWS=1 timeout 90 $K bench e2e --model llama2-7b --weights q4_0,q8_0 --batch 16 --ctx 512 --prompt 0 --json $R/e2e-7b-r1.json > $R/e2e-7b-r1.txt 2>&1; echo "e2e r1 rc $? at $((SECONDS-t0))s"
for f in e2e-7b e2e-7b-r1; do echo "== $f"; grep -hE "^bench: e2e .*tokens/s" $R/$f.txt | cut -c1-140; done
tar -czf $OUT/res4.tgz -C $R .
echo "total $((SECONDS-t0))s"
