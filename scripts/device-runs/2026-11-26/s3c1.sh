#!/usr/bin/env bash
# session 3 call 1: build the snapshot; GPU tests touched since the last run; measurements that
# need a quiet GPU (GEMV counters, 7B shapes, the 7B decode-step breakdown); then sanitizers in
# gtest shards so the slow binaries finish: racecheck prefill + sampling, memcheck batch_decode.
set -uo pipefail
cp .carry/model.a /tmp/m.a
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap
export KLAB_GIT_COMMIT=7f5f1f3
t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 -- -k 0 > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 60 $B/tests/test_cuda_fused_decode_fused_decode_test --gtest_brief=1 --gtest_also_run_disabled_tests --gtest_repeat=3 > $OUT/fused.log 2>&1; echo "fused rc $?"; grep -E "FAILED|PASSED|overflow" $OUT/fused.log | sort | uniq -c | head
for t in attn_decode_decode_test sampling_sampling_test; do
  timeout 120 $B/tests/test_cuda_$t --gtest_brief=1 > $OUT/$t.log 2>&1; echo "$t rc $?"; grep -E "FAILED|PASSED" $OUT/$t.log | head -5
done
echo "tests done at $((SECONDS-t0))s"
timeout 60 $K bench gemv --bits 4,8 --M 1 --N 12288,4096,22016,4096,32000 --K 4096,4096,4096,11008,4096 --variant mma,mma_stream,vec16_pipelined --json $OUT/gemv7b.json > $OUT/gemv7b.txt 2>&1; echo "gemv7b rc $?"
grep -E "^bench: gemv" $OUT/gemv7b.txt | cut -c1-150
timeout 90 ncu --clock-control none --graph-profiling node -k regex:gemv_mma_kernel --launch-skip 30 --launch-count 2 \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy --section LaunchStats --section SchedulerStats \
  $K bench gemv --bits 4 --M 1 --N 4096 --K 14336 --variant mma > $OUT/ncu-gemv-mma.txt 2>&1; echo "ncu gemv rc $?"
grep -E "Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Registers Per|Warp Cycles Per Issued|Stall|L2 Hit|L1/TEX Hit|Theoretical Occ|Block Limit" $OUT/ncu-gemv-mma.txt | head -40
timeout 90 $K bench e2e --model llama2-7b --weights q4_0 --batch 1 --ctx 512 --prompt 0 --json $OUT/e2e7b.json > $OUT/e2e7b.txt 2>&1; echo "e2e rc $?"; grep -E "tokens/s" $OUT/e2e7b.txt | cut -c1-160
OUT=$OUT KLAB_PROFILE_COUNT=600 timeout 200 bash scripts/profile-e2e.sh llama2-7b q4_0 2>&1 | tail -32
echo "measurements done at $((SECONDS-t0))s"
: > $OUT/sanitizer.txt
shard() {  # shard TOOL BINARY N I
  local tool=$1 bin=$2 n=$3 i=$4
  GTEST_TOTAL_SHARDS=$n GTEST_SHARD_INDEX=$i timeout 250 compute-sanitizer --tool $tool --error-exitcode 99 --print-limit 5 $B/tests/$bin --gtest_brief=1 > /tmp/san-$tool-$bin-$i.log 2>&1
  local rc=$?
  echo "$tool $bin shard $i/$n rc=$rc $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' /tmp/san-$tool-$bin-$i.log | tail -1) $(grep -E 'PASSED|FAILED' /tmp/san-$tool-$bin-$i.log | tail -1)"
  [ $rc -eq 99 ] && grep -m5 -E "Invalid|Race|at 0x" /tmp/san-$tool-$bin-$i.log
}
export -f shard; export B
{ for i in 0 1 2 3 4 5 6 7; do echo "racecheck test_cuda_attn_prefill_prefill_test 8 $i"; done
  for i in 0 1 2; do echo "racecheck test_cuda_sampling_sampling_test 3 $i"; done
  for i in 0 1 2; do echo "memcheck test_cuda_model_batch_decode_test 3 $i"; done
} > /tmp/jobs
xargs -P 15 -L 1 bash -c 'shard "$0" "$1" "$2" "$3"' < /tmp/jobs >> $OUT/sanitizer.txt 2>&1
sort $OUT/sanitizer.txt | cut -c1-200
echo "total $((SECONDS-t0))s"
