#!/usr/bin/env bash
# session 3 call 5: mma_staged vs mma vs mma_async (tests, bench, SASS), 7B e2e with each.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap
R=/tmp/res; rm -rf $R; mkdir -p $R
t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 150 $B/tests/test_cuda_gemv_gemv_q_test --gtest_brief=1 > $R/gemv_q.log 2>&1; echo "gemv_q rc $? at $((SECONDS-t0))s $(grep -E '^\[  (PASSED|FAILED)' $R/gemv_q.log | tr '\n' ' ' | cut -c1-200)"
grep -A4 "Failure" $R/gemv_q.log | grep -E "variant|trace|68:" | sort | uniq -c | sort -rn | head -12
for v in mma mma_async mma_staged; do
  timeout 60 $K bench gemv --bits 4,8 --M 1 --variant $v --json $R/gemv-$v.json > $R/gemv-$v.txt 2>&1
  timeout 60 $K bench gemv --bits 4 --M 1 --N 12288,4096,4096,32000 --K 4096,4096,11008,4096 --variant $v --json $R/gemv7b-$v.json > $R/gemv7b-$v.txt 2>&1
  timeout 60 $K bench gemv --bits 4 --M 1 --N 11008 --K 4096 --epilogue swiglu --variant $v --json $R/gemvsw-$v.json > $R/gemvsw-$v.txt 2>&1
done
grep -hE "^bench: gemv" $R/gemv-*.txt $R/gemv7b-*.txt $R/gemvsw-*.txt | cut -c1-120
for v in mma_async mma_staged; do
  KLAB_CUDA_GEMV=$v timeout 90 $K bench e2e --model llama2-7b --weights q4_0,q8_0 --batch 1 --ctx 512 --prompt 0 --json $R/e2e-$v.json > $R/e2e-$v.txt 2>&1; echo "e2e $v rc $?"; grep -E "tokens/s" $R/e2e-$v.txt | cut -c1-150
done
timeout 60 ncu --clock-control none -k regex:gemv_mma_staged_kernel --launch-skip 30 --launch-count 1 --section SpeedOfLight --section WarpStateStats --section Occupancy --section SchedulerStats --section InstructionStats \
  $K bench gemv --bits 4 --M 1 --N 14336 --K 4096 --variant mma_staged > $R/ncu-staged.txt 2>&1
grep -E "Duration|DRAM Throughput|Executed Ipc A|Issue Slots Busy|Eligible Warps|Achieved Active|Executed Instructions  |Warp Cycles Per Issued|stalled" $R/ncu-staged.txt | head -14
cuobjdump --dump-sass $B/CMakeFiles/klab_cuda_gemv.dir/src/cuda/gemv/mma_staged_f16.cu.o > $R/staged.sass 2>&1
tar -czf $OUT/res.tgz -C $R .
echo "total $((SECONDS-t0))s"
