#!/usr/bin/env bash
# session 4 call 9: dp4a (q8-activation integer-dot GEMV): its tests and the exact-x GEMV tests,
# kernel benches at the 7B / 8B shapes (4 and 8 bits), e2e with it forced through the engine.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=$OUT; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test test_cuda_gemv_gemv_dp4a_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head
B=/tmp/klab-build; K=$B/bin/klab
for t in gemv_gemv_dp4a_test gemv_gemv_q_test; do
  timeout 120 $B/tests/test_cuda_$t --gtest_brief=1 > $R/$t.log 2>&1; echo "$t rc $? $(grep -E '^\[  (PASSED|FAILED)' $R/$t.log | tr '\n' ' ')"; grep -B2 -A8 -E "Failure" $R/$t.log | head -24
done
timeout 60 $K bench gemv --bits 4,8 --M 1 --N 12288,4096,4096,14336,4096 --K 4096,4096,11008,4096,14336 --json $R/gemv.json > $R/gemv.txt 2>&1; echo "gemv rc $?"
timeout 30 $K bench gemv --bits 4 --M 1 --N 11008 --K 4096 --epilogue swiglu --json $R/gemv-swiglu.json > $R/gemv-swiglu.txt 2>&1; echo "gemv swiglu rc $?"
grep -hE "^bench: gemv/(mma_staged_pdl|mma_async_pdl|dp4a|dp4a_pdl) " $R/gemv*.txt | cut -c1-110
for v in auto dp4a_pdl; do KLAB_CUDA_GEMV=$v timeout 80 $K bench e2e --model llama2-7b,llama3-8b --weights q4_0,q8_0 --batch 1 --ctx 512 --prompt 0 > $R/e2e-$v.txt 2>&1; echo "e2e $v rc $?"; grep -hE "^bench: e2e .*tokens/s|rror" $R/e2e-$v.txt | cut -c1-120; done
echo "total $((SECONDS-t0))s"
