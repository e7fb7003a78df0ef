#!/usr/bin/env bash
# Session 24 c3 (H200): c2's launch-floor probe again (c2's build of it lacked the non-portable
# cluster size attribute, so the launches failed and it printed no rows; expectation as in c2:
# an empty launch of `_spec`'s shape ~2-3 µs, + one DRAM round trip and the cluster barrier ~1-1.5
# µs more); compute-sanitizer memcheck and racecheck on the cluster decode tests (s23 c6 changed
# the key loop: `__any_sync` around O's rescale); the Llama-3-8B e2e rows of issue 8.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
"$OLDPWD/.carry/launch_floor" > "$R/launch-floor.txt" 2>&1
cat "$R/launch-floor.txt"
dr_build klab_cli test_cuda_attn_decode_decode_test
san() {  # TOOL SHARDS
  local tool=$1 n=$2 i
  for ((i = 0; i < n; i++)); do
    GTEST_TOTAL_SHARDS=$n GTEST_SHARD_INDEX=$i timeout 170 compute-sanitizer --tool "$tool" \
      "$B/tests/test_cuda_attn_decode_decode_test" \
      --gtest_filter='DecodeSplitTest.Cluster*:DecodeLayoutTest.*:DecodeArgsTest.*' \
      > "$R/$tool.$i.log" 2>&1 &
  done
}
san memcheck 8
san racecheck 8
wait
for tool in memcheck racecheck; do
  echo "$tool: $(grep -hE 'ERROR SUMMARY|RACECHECK SUMMARY' "$R/$tool".*.log | tr '\n' ';')"
  echo "  ok $(cat "$R/$tool".*.log | grep -cE '^\[       OK \]'), failed" \
    "$(cat "$R/$tool".*.log | grep -cE '^\[  FAILED  \].*\(')," \
    "finished $(grep -lE '^\[  PASSED  \]' "$R/$tool".*.log | wc -l) / 8 shards"
done
dr_pack
timeout 200 "$K" bench e2e --model llama3-8b --weights q4_0 --batch 1,4,16 --ctx 512,4096 \
  --prompt 512 --json "$R/e2e-llama3-8b.json" > "$R/e2e-llama3-8b.txt" 2>&1
echo "e2e 8b rc $? ($((SECONDS - t0))s)"
grep -hE "^bench: e2e.*tokens/s" "$R/e2e-llama3-8b.txt" | cut -c1-140
dr_finish
