#!/usr/bin/env bash
# Session 29 c2 (H200, warm after c1: the same /tmp build dirs; rebuilt if cold).
# The dense one-token QKV epilogue kernel at 2 rows a warp where 4 would leave < 4 blocks an SM.
# s28 c6: Llama-3-8B F16 B=1's QKV (384 blocks, ~12 warps an SM) advanced the step 21.3 µs a
# layer for 11.9 µs of bytes; Llama-2-7B's (768 blocks) runs at copy and keeps its kernel.
# Prediction: 8B F16 B=1 ctx 512 222.6-225.3 -> 228-236 tok/s (+2..+5%; s27 c4 saw the 7B
# attention and O take up part of a faster QKV), QKV advance 21.3 -> 13-15 µs a layer;
# 7B F16 B=1 within ±1% (its kernel is unchanged). Then memcheck on the decode speculation tests.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c2
dr_build_old klab_cli
dr_build klab_cli test_cuda_attn_decode_decode_test
wait
for i in 1 2; do
  dr_e2e_ab 8b-f16 "-$i" --model llama3-8b --weights f16 --batch 1
done
dr_e2e_ab 7b-f16 -1 --model llama2-7b --weights f16 --batch 1
dr_pack
dr_timeline 8b-f16 f16 llama3-8b
dr_pack
timeout 170 compute-sanitizer --tool memcheck "$B/tests/test_cuda_attn_decode_decode_test" \
  --gtest_filter='*Speculation*:*GuessedCut*:*ClusterGraph*' > "$R/memcheck.log" 2>&1
echo "memcheck rc $? $(grep -hE 'ERROR SUMMARY' "$R/memcheck.log") ok $(grep -cE '^\[       OK \]' "$R/memcheck.log")"
dr_finish
