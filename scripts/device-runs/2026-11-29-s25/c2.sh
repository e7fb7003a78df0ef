#!/usr/bin/env bash
# Session 25 c2 (H200). Predictions written before the run.
# 1. stream_floor again, now with the copy ceiling timed on the stream (c1 timed it as a graph's
#    memcpy node: 2,700 GB/s, a copy engine's rate, so c1's "% of bound" column was wrong; use
#    klab bench's 4,236 GB/s against its µs) and a `ring_x` style: `ring` plus mma_staged's
#    fixed work (x staged after the PDL wait behind a wait-all and a block barrier, the warps'
#    partials summed through shared memory, 16 floats stored). Prediction: ring_x at the QKV
#    size 8.0-9.0 µs against ring's 7.25, i.e. of the GEMV's ~4.8 µs over `ring` (12.09 vs
#    7.25) ~1-1.5 is the staging and epilogue structure, the rest the loop's math.
# 2. The cluster decode's speculative prologue for paged caches (`_spec`, `_w4_spec`): the
#    guessed range's rows from the global block table, every prologue tile's table reads in
#    flight before the first copy, no wait for the length and no block barrier before the
#    copies (the window stays for the loop). ncu in c1: the paged `_w8` CTA's extra ~1.1 µs
#    is in its prologue, ~0.6 µs of it warps waiting at the window's block barrier.
#    Prediction (old = c1's code / new, same call, two rounds): paged16 B=1 S=4096 `_spec`
#    10.5 -> 9.7-10.0 µs; S=16384 -2..-3%; B=8 paged -1..-2%; contiguous within ±1% (the key
#    loop's SASS is unchanged, 671 instructions, 220 registers). Tests: decode 804 + the new
#    paged speculation test (NaN rows past each length, a stale table entry, pages 16 and 17).
# (Rewritten after it ran onto lib.sh's dr_build_old / dr_ab / dr_issue_tables helpers: the
# same commands.)
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c2
"$DR_ROOT/.carry/stream_floor" > "$R/stream-floor.txt" 2>&1
echo "stream_floor rc $? ($((SECONDS - t0))s)"
cat "$R/stream-floor.txt"
dr_pack
dr_build klab_cli test_cuda_attn_decode_decode_test
dr_build_old klab_cli
dr_test_sharded attn test_cuda_attn_decode_decode_test 8 200
wait
dr_pack
dr_ab spec-b1 --variant split_kv_mma_cluster_spec --seconds 0.15 decode-attn \
  --batch 1 --len 4096,16384 --layout contiguous,paged
dr_ab spec-b8 --variant split_kv_mma_cluster_spec --seconds 0.15 decode-attn \
  --batch 8,16,32 --len 4096 --layout paged
dr_ab w4spec-b1 --variant split_kv_mma_cluster_w4_spec --seconds 0.15 decode-attn \
  --batch 1 --len 4096,16384 --layout paged
dr_ab s2-b1 --variant split_kv_mma_cluster_s2 --seconds 0.15 decode-attn \
  --batch 1 --len 4096 --layout contiguous,paged
dr_pack
timeout 170 compute-sanitizer --tool memcheck "$B/tests/test_cuda_attn_decode_decode_test" \
  --gtest_filter='*Speculation*:*GuessedCut*:*ClusterGraph*' > "$R/memcheck.log" 2>&1
echo "memcheck rc $? $(grep -hE 'ERROR SUMMARY' "$R/memcheck.log") ok $(grep -cE '^\[       OK \]' "$R/memcheck.log")"
dr_finish
