#!/usr/bin/env bash
# Session 21 call 6 (H200, cold): compute-sanitizer on the new card. memcheck on every GPU test
# binary at once (scripts/gpu-check.sh's sanitizer step: 16 side by side, 230 s each), then
# racecheck on the kernels with shared-memory rings and cluster merges: the decode-attention
# cluster variants (4 shards), the quantized GEMVs (2 shards), the fused decode blocks and QKV.
# Expectation: clean, as on the H100 (s20 c2: decode attention racecheck 0 hazards, memcheck 0).
set -uo pipefail
t0=$SECONDS
mkdir -p "$OUT/c6"
KLAB_GPU_CHECK_ONLY=sanitizer KLAB_SANITIZER_JOBS=16 KLAB_SANITIZER_TIMEOUT=230 \
  KLAB_GIT_COMMIT=$(cat .carry/commit) OUT="$OUT/c6" bash scripts/gpu-check.sh 2>&1 | tail -8
echo "memcheck done ($((SECONDS - t0))s)"
B=/tmp/klab-build
R=/tmp/c6-race && rm -rf $R && mkdir -p $R
race() {  # BINARY SHARDS INDEX FILTER
  GTEST_TOTAL_SHARDS=$2 GTEST_SHARD_INDEX=$3 timeout 180 compute-sanitizer --tool racecheck \
    --error-exitcode 99 --print-limit 5 "$B/tests/$1" --gtest_brief=1 --gtest_filter="$4" \
    > "$R/racecheck-$1-$3.log" 2>&1
  echo "racecheck $1 $3/$2 rc=$? $(grep -E 'RACECHECK SUMMARY' "$R/racecheck-$1-$3.log" | tail -1) $(grep -E '^\[  (PASSED|FAILED)' "$R/racecheck-$1-$3.log" | tr '\n' ' ')"
}
export -f race
export B R
{ for i in 0 1 2 3; do echo "test_cuda_attn_decode_decode_test 4 $i *luster*"; done
  for i in 0 1; do echo "test_cuda_gemv_gemv_q_test 2 $i *"; done
  echo "test_cuda_fused_decode_fused_decode_test 1 0 *"
  echo "test_cuda_qkv_qkv_test 1 0 *"
} | xargs -P 8 -L 1 bash -c 'race "$0" "$1" "$2" "$3"' | sort
tar -czf "$OUT/c6-race.tgz" -C $R .
echo "total $((SECONDS - t0))s"
