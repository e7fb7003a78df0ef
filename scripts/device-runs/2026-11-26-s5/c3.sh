#!/usr/bin/env bash
# session 5 call 3: decode attention with indices_ready (bench and engine set it) and the new
# split_kv_mma_cluster_w4_spec: the decode tests of the cluster variants, then the decode
# shapes (B = 1, 8 x 512 / 4096 / 16384 x contiguous / paged16), and Nsight Compute of
# w4_spec / cluster / spec at B = 1 S = 16384.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res3; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab test_cuda_attn_decode_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 150 $B/tests/test_cuda_attn_decode_decode_test --gtest_brief=1 --gtest_filter='*Cluster*:*BackToBack*:*Graph*' > $R/decode_test.log 2>&1; echo "decode_test rc $? $(grep -E '^\[  (PASSED|FAILED)' $R/decode_test.log | tr '\n' ' ') at $((SECONDS-t0))s"; grep -B2 -A8 "Failure" $R/decode_test.log | head -30
timeout 90 $K bench decode-attn --batch 1,8 --len 512,4096,16384 --layout contiguous,paged --json $R/attn-decode.json > $R/attn-decode.txt 2>&1; echo "decode rc $? at $((SECONDS-t0))s"
grep -hE "^bench: decode_attention/(split_kv_mma_cluster|split_kv_mma_fused|auto)" $R/attn-decode.txt | cut -c19-110
for v in split_kv_mma_cluster_w4_spec split_kv_mma_cluster split_kv_mma_cluster_spec; do
  timeout 60 ncu --clock-control none -k "regex:decode_cluster" --launch-skip 20 --launch-count 1 --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats --section SchedulerStats $K bench --variant $v decode-attn --batch 1 --len 16384 --layout contiguous > $R/ncu-$v.txt 2>&1
  echo "== ncu $v rc $?"; grep -E "Duration|DRAM Throughput|SM Active Cycles|Elapsed Cycles|Issue Slots Busy|Eligible Warps|No Eligible|Warp Cycles Per Issued" $R/ncu-$v.txt | head -12 | cut -c1-110
done
tar -czf $OUT/res3.tgz -C $R .
echo "total $((SECONDS-t0))s"
