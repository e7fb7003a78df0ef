#!/usr/bin/env bash
# Session 23 c6 (H200): the cluster decode's tile loop without the dead rows and the idle rescale.
# c5's ncu of `_spec` at B=1 S=16384: issue slots busy 24%, DRAM 64%, warp samples mostly `wait`
# (fixed-latency dependencies) and `selected`, next to no long_scoreboard: the one-sequence stream
# is bound by each warp's dependency chain per tile (~530 instructions a 16-key tile, 32 of them
# HMMA, 92 FMUL), not by memory. Two cuts, both exact:
#   - rows 8..15 of the 16-row MMA tile hold no head when a KV head serves <= 8 query heads
#     (Llama GQA 4, MHA 1): skip their softmax and rescale, P's rows there are 0;
#   - O's rescale (64 FMUL a tile that the P V HMMAs wait on) only when some row's running max
#     moved (alpha != 1 in any lane): along a long range it seldom does.
# Prediction (bf16 32/8 d128, µs, against c4's `_spec` of this session: 9.63-9.87 / 14.69-14.75 /
# 24.29-24.37 / 39.39-39.52 at S=4096 / 8192 / 16384 / 32768): S=16384 -> 21-22.5, S=32768 ->
# 35-37, S=4096 -> 9.3-9.7; B=8-32 (memory-bound) within 3%; end to end 7B Q4_0 B=1 ctx 512
# 0..+1%, ctx 4096 +1..+3% (old and new binaries alternating in this call).
set -uo pipefail
ROOT=$PWD
. scripts/device-runs/lib.sh
dr_start c6
dr_build klab_cli test_cuda_attn_decode_decode_test
(mkdir -p /tmp/snap-old && tar -xzf "$ROOT/.carry/snap-old.tgz" -C /tmp/snap-old &&
  cmake -S /tmp/snap-old -B /tmp/klab-build-old -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > "$R/cmake-old.log" 2>&1 &&
  cmake --build /tmp/klab-build-old -j16 --target klab_cli > "$R/build-old.log" 2>&1;
  echo "old build rc $?") &
dr_test_sharded attn test_cuda_attn_decode_decode_test 8 200
wait
dr_pack
for v in split_kv_mma_cluster_spec split_kv_mma_cluster_s2; do
  dr_bench "b1-$v" --variant "$v" decode-attn --batch 1 --len 4096,8192,16384,32768 \
    --layout contiguous,paged
done
dr_bench "b8-32" decode-attn --batch 8,16,32 --len 4096 --layout contiguous,paged
dr_pack
OLD=/tmp/klab-build-old/bin/klab
e2e() {  # NAME BINARY CTX
  timeout 100 "$2" bench e2e --prompt 0 --ctx "$3" --model llama2-7b --weights q4_0 --batch 1 \
    --json "$R/e2e-$1.json" > "$R/e2e-$1.txt" 2>&1
  echo "$1: $(grep -hoE '[0-9.,]+ tokens/s' "$R/e2e-$1.txt" | tr '\n' ' ')($((SECONDS - t0))s)"
}
for i in 1 2; do
  for ctx in 512 4096; do
    e2e "7b-q4_0-ctx$ctx-old-$i" "$OLD" "$ctx"
    e2e "7b-q4_0-ctx$ctx-new-$i" "$K" "$ctx"
  done
  dr_pack
done
dr_finish
