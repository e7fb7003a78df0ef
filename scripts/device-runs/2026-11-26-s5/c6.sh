#!/usr/bin/env bash
# session 5 call 6: decode attention with several clusters per head tile where one cluster per
# head tile cannot fill the GPU (choose_cluster_grid): decode tests (all), memcheck + racecheck of
# the new parts test, the decode shapes + MHA, ncu of the launch shape at B=1 S=16384,
# e2e B=1.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res6; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_attn_decode_decode_test test_cuda_attn_decode_split_plan_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
for t in test_cuda_attn_decode_decode_test test_cuda_attn_decode_split_plan_test; do
  timeout 150 $B/tests/$t --gtest_brief=1 > $R/$t.log 2>&1; echo "$t rc $? $(grep -E '^\[  (PASSED|FAILED)|tests? from .* ran' $R/$t.log | tr '\n' ' ' | cut -c1-150) at $((SECONDS-t0))s"; grep -B3 -A10 "Failure" $R/$t.log | head -40
done
for tool in memcheck racecheck; do
  timeout 150 compute-sanitizer --tool $tool --error-exitcode 99 --print-limit 5 $B/tests/test_cuda_attn_decode_decode_test --gtest_brief=1 --gtest_filter='*ClusterParts*:*ClusterGraph*' > $R/san-$tool.log 2>&1
  echo "$tool rc $? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $R/san-$tool.log | tail -1) $(grep -E '^\[  (PASSED|FAILED)' $R/san-$tool.log | tr '\n' ' ') at $((SECONDS-t0))s"
done
timeout 90 $K bench decode-attn --batch 1,8,32 --len 4096,16384 --layout contiguous,paged --json $R/attn-decode.json > $R/attn-decode.txt 2>&1; echo "decode rc $? at $((SECONDS-t0))s"
timeout 40 $K bench decode-attn --batch 1 --len 512,4096 --hq 32 --hkv 32 --layout contiguous,paged --json $R/attn-mha.json > $R/attn-mha.txt 2>&1; echo "mha rc $?"
grep -hE "^bench: decode_attention/(split_kv_mma_cluster|split_kv_mma_fused)" $R/attn-decode.txt $R/attn-mha.txt | grep -E "B=1,|B=8,S=4096" | cut -c19-110
timeout 60 ncu --clock-control none -k "regex:decode_cluster" --launch-skip 20 --launch-count 1 --section SpeedOfLight --section LaunchStats --section Occupancy $K bench --variant split_kv_mma_cluster_spec decode-attn --batch 1 --len 16384 --layout contiguous > $R/ncu-spec-16384.txt 2>&1
echo "ncu rc $?"; grep -E "Duration|DRAM Throughput|SM Active Cycles|Elapsed Cycles|Cluster Size|Grid Size|Max Active Clusters" $R/ncu-spec-16384.txt | head -10 | cut -c1-110
timeout 90 $K bench e2e --model llama2-7b,llama3-8b --weights q4_0 --batch 1 --ctx 512,4096 --prompt 0 --json $R/e2e.json > $R/e2e.txt 2>&1; echo "e2e rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e.txt | cut -c1-120
tar -czf $OUT/res6.tgz -C $R .
echo "total $((SECONDS-t0))s"
