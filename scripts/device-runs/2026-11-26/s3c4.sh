#!/usr/bin/env bash
# session 3 call 4: tests of every changed family, mma_async v3 vs mma, decode attention fused,
# wgmma_fa3 counters, 7B e2e with the new kernels, the 7B step breakdown.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap
R=/tmp/res; rm -rf $R; mkdir -p $R
t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
for t in gemv_gemv_q_test attn_decode_decode_test attn_decode_split_plan_test qkv_qkv_test model_glue_test fused_decode_fused_decode_test model_batch_decode_test model_cuda_session_test; do
  f=$B/tests/test_cuda_$t; [ -x $f ] || f=$B/tests/test_$t; [ -x $f ] || { echo "no $t"; continue; }
  timeout 150 $f --gtest_brief=1 > $R/$t.log 2>&1; echo "$t rc $? at $((SECONDS-t0))s $(grep -E '^\[  (PASSED|FAILED|SKIPPED)' $R/$t.log | tr '\n' ' ' | cut -c1-150)"
  grep -A4 "Failure" $R/$t.log | head -12
done
for v in mma mma_async; do
  timeout 60 $K bench gemv --bits 4,8 --M 1,8 --variant $v --json $R/gemv-$v.json > $R/gemv-$v.txt 2>&1
  timeout 60 $K bench gemv --bits 4 --M 1 --N 12288,4096,4096 --K 4096,4096,11008 --variant $v --json $R/gemv7b-$v.json > $R/gemv7b-$v.txt 2>&1
  timeout 60 $K bench gemv --bits 4 --M 1 --N 11008 --K 4096 --epilogue swiglu --variant $v --json $R/gemvsw-$v.json > $R/gemvsw-$v.txt 2>&1
done
grep -hE "^bench: gemv" $R/gemv-*.txt $R/gemv7b-*.txt $R/gemvsw-*.txt | cut -c1-120
timeout 120 $K bench decode-attn --batch 1,8 --len 512,4096,16384 --layout contiguous,paged --json $R/attn-decode.json > $R/attn-decode.txt 2>&1; echo "decode bench rc $?"
grep -E "^bench: decode_attention/(split_kv_mma_onepass|split_kv_mma_fused) " $R/attn-decode.txt | cut -c1-120
echo "at $((SECONDS-t0))s"
for cfg in "auto auto" "mma_async auto" "mma_async split_kv_mma_fused"; do
  set -- $cfg
  KLAB_CUDA_GEMV=$1 KLAB_CUDA_DECODE_ATTN=$2 timeout 90 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1 --ctx 512 --prompt 0 --json $R/e2e-$1-$2.json > $R/e2e-$1-$2.txt 2>&1; echo "e2e $cfg rc $?"; grep -E "tokens/s" $R/e2e-$1-$2.txt | cut -c1-150
done
KLAB_CUDA_GEMV=mma_async KLAB_CUDA_DECODE_ATTN=split_kv_mma_fused OUT=$R KLAB_PROFILE_COUNT=500 timeout 150 bash scripts/profile-e2e.sh llama2-7b q4_0 2>&1 | tail -14
timeout 60 ncu --clock-control none -k regex:wgmma --launch-skip 3 --launch-count 1 --section SpeedOfLight --section WarpStateStats --section Occupancy --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis --section InstructionStats \
  $K bench prefill-attn --len 8192 --causal 1 --variant wgmma_fa3 > $R/ncu-wgmma.txt 2>&1; echo "ncu wgmma rc $?"
grep -E "Duration|Stall|Issue Slots|Eligible|Achieved Occ|Tensor|Pipe" $R/ncu-wgmma.txt | head -20
cuobjdump --dump-sass $B/CMakeFiles/klab_cuda_gemv.dir/src/cuda/gemv/mma_async_f16.cu.o > $R/async.sass 2>&1
tar -czf $OUT/res.tgz -C $R .
echo "total $((SECONDS-t0))s"
