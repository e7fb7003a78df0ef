#!/usr/bin/env bash
# Session 24 c7 (H200): the final code (c6's ring copies kept) measured once more for the
# issues' tables: compute-sanitizer memcheck on the cluster decode tests (c6 changed every copy's
# address), then `klab bench decode-attn` (B 1/8/16/32 x 4096/16384, contiguous and paged16),
# `prefill-attn` (8192), PyTorch's SDPA beside them, and the issue-8 e2e matrices (Llama-2-7B
# Q4_0 / Q8_0 / F16 and Llama-3-8B Q4_0). Expectation: c6's B=1 numbers (S=4096 ~9.2 µs
# contiguous, ~10.6 paged16; S=16384 ~23.5), the rest as in c2-c3 within run-to-run noise.
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
timeout 100 "$K" bench decode-attn --batch 1,8,16,32 --len 4096,16384 --layout contiguous,paged \
  --json "$R/attn-decode.json" > "$R/attn-decode.txt" 2>&1
echo "decode-attn rc $? ($((SECONDS - t0))s)"
grep -h "^bench: .*\[" "$R/attn-decode.txt" | grep -E "cluster_(spec|s2) " | cut -c1-110
timeout 60 "$K" bench prefill-attn --len 8192 --causal 1,0 --json "$R/attn-prefill.json" \
  > "$R/attn-prefill.txt" 2>&1
echo "prefill-attn rc $? ($((SECONDS - t0))s)"
grep -h "^bench: .*\[" "$R/attn-prefill.txt" | grep tma | cut -c1-110
timeout 90 python3 scripts/bench_sdpa.py --out "$R/sdpa.json" > "$R/sdpa.txt" 2>&1
echo "sdpa rc $? ($((SECONDS - t0))s)"
dr_pack
timeout 150 "$K" bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --batch 1,4,16 \
  --ctx 512,4096 --prompt 512 --json "$R/e2e-llama2-7b.json" > "$R/e2e-llama2-7b.txt" 2>&1
echo "e2e 7b rc $? ($((SECONDS - t0))s)"
timeout 100 "$K" bench e2e --model llama3-8b --weights q4_0 --batch 1,4,16 --ctx 512,4096 \
  --prompt 512 --json "$R/e2e-llama3-8b.json" > "$R/e2e-llama3-8b.txt" 2>&1
echo "e2e 8b rc $? ($((SECONDS - t0))s)"
grep -hE "^bench: e2e.*tokens/s" "$R"/e2e-*.txt | cut -c1-110
dr_finish
