#!/usr/bin/env bash
# Session 24 c7 (H200): the final code (c6's ring copies kept) measured once more for the
# issues' tables: compute-sanitizer memcheck on the cluster decode tests (c6 changed every copy's
# address), then `klab bench decode-attn` (B 1/8/16/32 x 4096/16384, contiguous and paged16),
# `prefill-attn` (8192), PyTorch's SDPA beside them, and the issue-8 e2e matrices (Llama-2-7B
# Q4_0 / Q8_0 / F16 and Llama-3-8B Q4_0). Expectation: c6's B=1 numbers (S=4096 ~9.2 µs
# contiguous, ~10.6 paged16; S=16384 ~23.5), the rest as in c2-c3 within run-to-run noise.
# (Rewritten after it ran onto lib.sh's dr_issue_tables helper: the same commands.)
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c7
dr_build klab_cli test_cuda_attn_decode_decode_test
for ((i = 0; i < 8; i++)); do
  GTEST_TOTAL_SHARDS=8 GTEST_SHARD_INDEX=$i timeout 170 compute-sanitizer --tool memcheck \
    "$B/tests/test_cuda_attn_decode_decode_test" \
    --gtest_filter='DecodeSplitTest.Cluster*:DecodeLayoutTest.*:DecodeArgsTest.*' \
    > "$R/memcheck.$i.log" 2>&1 &
done
wait
echo "memcheck: $(grep -hE 'ERROR SUMMARY' "$R"/memcheck.*.log | sort | uniq -c | tr '\n' ';')" \
  "ok $(cat "$R"/memcheck.*.log | grep -cE '^\[       OK \]')," \
  "failed $(cat "$R"/memcheck.*.log | grep -cE '^\[  FAILED  \].*\(') ($((SECONDS - t0))s)"
dr_pack
dr_issue_tables
dr_finish
