#!/usr/bin/env bash
# session 5 final call 1: full build of the final snapshot (every target), compute-sanitizer
# memcheck + racecheck on the kernels changed this session (the staged fused blocks: norm
# prologue + QKV epilogue; the decode cluster kernels with indices_ready) and memcheck of the
# GEMV tests' mma_staged cases.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
cp .carry/model.a /tmp/m.a 2>/dev/null
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resf1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 -- -k 0 > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error|warning" /tmp/build.log | head -10
B=/tmp/klab-build
shard() {  # shard TOOL BINARY N I [FILTER]
  local tool=$1 bin=$2 n=$3 i=$4 filter=${5:-*}
  GTEST_TOTAL_SHARDS=$n GTEST_SHARD_INDEX=$i timeout 200 compute-sanitizer --tool $tool --error-exitcode 99 --print-limit 5 $B/tests/$bin --gtest_brief=1 --gtest_filter="$filter" > $R/san-$tool-$bin-$i.log 2>&1
  local rc=$?
  echo "$tool $bin shard $i/$n rc=$rc $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $R/san-$tool-$bin-$i.log | tail -1) $(grep -E '^\[  (PASSED|FAILED)' $R/san-$tool-$bin-$i.log | tr '\n' ' ')"
}
export -f shard; export B R
{ for i in 0 1 2 3; do echo "memcheck test_cuda_fused_decode_fused_decode_test 4 $i *Staged*:*LayerChain*:*NormQkv*"; done
  for i in 0 1; do echo "racecheck test_cuda_fused_decode_fused_decode_test 2 $i *Staged*"; done
  for i in 0 1 2; do echo "memcheck test_cuda_attn_decode_decode_test 3 $i *ClusterEverySize*:*ClusterIndicesReady*:*ClusterGraph*"; done
  echo "racecheck test_cuda_attn_decode_decode_test 1 0 *ClusterIndicesReady*"
  echo "memcheck test_cuda_model_cuda_session_test 1 0 -*RealModel*"
} > /tmp/jobs
xargs -P 11 -L 1 bash -c 'shard "$0" "$1" "$2" "$3" "$4"' < /tmp/jobs > $R/sanitizer.txt 2>&1
sort $R/sanitizer.txt | cut -c1-220
tar -czf $OUT/resf1.tgz -C $R .
echo "total $((SECONDS-t0))s"
