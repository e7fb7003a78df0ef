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
set -uo pipefail
ROOT=$PWD
. scripts/device-runs/lib.sh
dr_start c2
"$ROOT/.carry/stream_floor" > "$R/stream-floor.txt" 2>&1
echo "stream_floor rc $? ($((SECONDS - t0))s)"
cat "$R/stream-floor.txt"
dr_pack
dr_build klab_cli test_cuda_attn_decode_decode_test
(mkdir -p /tmp/snap-old && rm -rf /tmp/snap-old/* && tar -xzf "$ROOT/.carry/snap-old.tgz" -C /tmp/snap-old &&
  cmake -S /tmp/snap-old -B /tmp/klab-build-old -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > "$R/cmake-old.log" 2>&1 &&
  cmake --build /tmp/klab-build-old -j16 --target klab_cli > "$R/build-old.log" 2>&1;
  echo "old build rc $? ($((SECONDS - t0))s)") &
dr_test_sharded attn test_cuda_attn_decode_decode_test 8 200
wait
dr_pack
OLD=/tmp/klab-build-old/bin/klab
ab() {  # NAME VARIANT ARGS...: klab bench decode-attn, old then new binary, twice
  local name=$1 variant=$2 i side bin
  shift 2
  for i in 1 2; do
    for side in old new; do
      bin=$K
      [ "$side" = old ] && bin=$OLD
      timeout 100 "$bin" bench --variant "$variant" --seconds 0.15 decode-attn "$@" \
        --json "$R/bench-$name-$side-$i.json" > "$R/bench-$name-$side-$i.txt" 2>&1
      echo "$name $side $i: $(grep -h '^bench: .*\[' "$R/bench-$name-$side-$i.txt" |
        sed -E 's/.*\[(.*)\] +([0-9.]+) us.*/\1 \2/' | tr '\n' ';')"
    done
  done
}
ab spec-b1 split_kv_mma_cluster_spec --batch 1 --len 4096,16384 --layout contiguous,paged
ab spec-b8 split_kv_mma_cluster_spec --batch 8,16,32 --len 4096 --layout paged
ab w4spec-b1 split_kv_mma_cluster_w4_spec --batch 1 --len 4096,16384 --layout paged
ab s2-b1 split_kv_mma_cluster_s2 --batch 1 --len 4096 --layout contiguous,paged
dr_pack
timeout 170 compute-sanitizer --tool memcheck "$B/tests/test_cuda_attn_decode_decode_test" \
  --gtest_filter='*Speculation*:*GuessedCut*:*ClusterGraph*' > "$R/memcheck.log" 2>&1
echo "memcheck rc $? $(grep -hE 'ERROR SUMMARY' "$R/memcheck.log") ok $(grep -cE '^\[       OK \]' "$R/memcheck.log")"
dr_finish
