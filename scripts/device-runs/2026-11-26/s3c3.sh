#!/usr/bin/env bash
# session 3 call 3: mma_async v2 (tests, bench, ncu), wgmma_fa3 prefill (tests, bench), 7B e2e.
set -uo pipefail
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap
export KLAB_GIT_COMMIT=$(cat /work/main/.carry/commit 2>/dev/null || echo 6c9b022)
R=/tmp/res; rm -rf $R; mkdir -p $R
t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test test_cuda_attn_prefill_prefill_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 120 $B/tests/test_cuda_gemv_gemv_q_test --gtest_brief=1 > $R/gemv_q.log 2>&1; echo "gemv_q rc $? at $((SECONDS-t0))s"; grep -E "FAILED|PASSED|Failure|rel_err|variant" $R/gemv_q.log | head -12
timeout 150 $B/tests/test_cuda_attn_prefill_prefill_test --gtest_brief=1 --gtest_filter='*wgmma*:PrefillLayout*:PrefillLong*:PrefillTileEdge*:PrefillArgs*' > $R/prefill.log 2>&1; echo "prefill rc $? at $((SECONDS-t0))s"; grep -E "FAILED|PASSED|Failure" $R/prefill.log | sort | uniq -c | sort -rn | head -12; grep -m3 -A4 "Failure" $R/prefill.log | head -20
timeout 90 $K bench prefill-attn --len 8192 --causal 1,0 --variant wgmma_fa3 --json $R/prefill-wgmma.json > $R/prefill-wgmma.txt 2>&1; echo "prefill bench rc $?"; grep -E "^bench" $R/prefill-wgmma.txt | head
timeout 90 $K bench prefill-attn --len 8192 --causal 1,0 --variant mma_fa2 --json $R/prefill-fa2.json > $R/prefill-fa2.txt 2>&1; grep -E "^bench" $R/prefill-fa2.txt | head
for v in mma mma_async; do
  timeout 60 $K bench gemv --bits 4,8 --M 1,8 --variant $v --json $R/gemv-$v.json > $R/gemv-$v.txt 2>&1
  timeout 60 $K bench gemv --bits 4 --M 1 --N 12288,4096,4096 --K 4096,4096,11008 --variant $v --json $R/gemv7b-$v.json > $R/gemv7b-$v.txt 2>&1
done
grep -hE "^bench: gemv" $R/gemv-*.txt $R/gemv7b-*.txt | cut -c1-140
timeout 90 ncu --clock-control none -k regex:gemv_mma_async_kernel --launch-skip 30 --launch-count 1 \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy --section SchedulerStats --section InstructionStats --section ComputeWorkloadAnalysis \
  $K bench gemv --bits 4 --M 1 --N 4096 --K 14336 --variant mma_async > $R/ncu-async.txt 2>&1; echo "ncu rc $?"
grep -E "Duration|DRAM Throughput|Achieved Occupancy|Theoretical Occ|Registers Per|Warp Cycles Per Issued|Issued Ipc|Executed Ipc|Stall|Issue Slots Busy|No Eligible|Active Warps Per|Eligible Warps|Executed Instructions  " $R/ncu-async.txt | head -30
for v in auto mma_async mma_async_pdl; do
  KLAB_CUDA_GEMV=$v timeout 90 $K bench e2e --model llama2-7b --weights q4_0,q8_0 --batch 1 --ctx 512 --prompt 0 --json $R/e2e-$v.json > $R/e2e-$v.txt 2>&1; echo "e2e $v rc $?"; grep -E "tokens/s" $R/e2e-$v.txt | cut -c1-150
done
cuobjdump --dump-sass $B/CMakeFiles/klab_cuda_gemv.dir/src/cuda/gemv/mma_async_f16.cu.o > $R/async.sass 2>&1
tar -czf $OUT/res.tgz -C $R .
echo "total $((SECONDS-t0))s"
