#!/usr/bin/env bash
# session 4 call 6: mma_lean (GEMV tests, kernel benches at the 7B/8B shapes, e2e with it forced),
# then the quick suite's wall time after the bench host-work changes.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=$OUT; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 -- -k 0 > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head
B=/tmp/klab-build; K=$B/bin/klab
for t in gemv_gemv_lean_test gemv_gemv_q_test; do
  timeout 120 $B/tests/test_cuda_$t --gtest_brief=1 > $R/$t.log 2>&1; echo "$t rc $? $(grep -E '^\[  (PASSED|FAILED)' $R/$t.log | tr '\n' ' ')"; grep -B2 -A8 -E "Failure" $R/$t.log | head -30
done
echo "at $((SECONDS-t0))s"
timeout 60 $K bench gemv --bits 4 --M 1 --N 12288,4096,4096,14336,4096 --K 4096,4096,11008,4096,14336 --json $R/gemv-lean.json > $R/gemv-lean.txt 2>&1; echo "gemv rc $?"
timeout 30 $K bench gemv --bits 4 --M 1 --N 11008 --K 4096 --epilogue swiglu --json $R/gemv-lean-swiglu.json > $R/gemv-lean-swiglu.txt 2>&1; echo "gemv swiglu rc $?"
grep -hE "^bench: gemv/(mma_staged|mma_async|mma_lean|mma)[_a-z0-9]* " $R/gemv-lean*.txt | cut -c1-105
for v in auto mma_lean_pdl mma_lean_x2_pdl; do KLAB_CUDA_GEMV=$v timeout 60 $K bench e2e --model llama2-7b,llama3-8b --weights q4_0 --batch 1 --ctx 512 --prompt 0 > $R/e2e-$v.txt 2>&1; echo "e2e $v rc $?"; grep -hE "^bench: e2e .*tokens/s" $R/e2e-$v.txt | cut -c1-110; done
echo "at $((SECONDS-t0))s"
t1=$SECONDS; timeout 170 $K bench --suite quick --json $R/quick.json > /dev/null 2> $R/quick-progress.txt; echo "quick suite rc $? in $((SECONDS-t1))s"; tail -3 $R/quick-progress.txt | cut -c1-150
tar -czf $R/txt.tgz -C $R $(cd $R && ls *.txt *.log) && (cd $R && rm -f *.txt *.log)
echo "total $((SECONDS-t0))s"
