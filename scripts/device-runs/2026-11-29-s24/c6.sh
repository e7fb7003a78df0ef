#!/usr/bin/env bash
# Session 24 c6 (H200): the cluster decode's copies with cheap addresses (commit in .carry/commit)
# against the previous code (.carry/snap-old.tgz, commit 7a9ba63), built and run in one call.
# What changed: each ring copy was ~50 SASS of address arithmetic (a row's 64-bit global address
# rebuilt from hkv * head_stride, the swizzle recomputed per chunk, a deferred-row check per row)
# and the contiguous row offsets were 4 64-bit products a tile; now two per-lane shared bases and
# the lane's K / V column pointers give every copy as base + immediate, and the row offsets walk
# by additions. Static key loop 845 -> 671 SASS (`_w8`/`_spec` bf16 d128), 834 -> 687 (`_s2`);
# dynamic per contiguous tile ~530 -> ~400 (estimate).
# Prediction (bf16 32/8 d128, µs, old -> new, same call): B=1 S=16384 contiguous 23.2 -> 22.0-22.8
# (-2..-5%: c6 of s23 cut ~90 instructions a tile for -4%, and s24 c1 showed more warps do not
# help, so the chain is not the whole bound), S=4096 9.5 -> 9.1-9.4, paged16 alike; B=8-32 S=4096
# within ±2% (memory-bound); e2e 7B Q4_0 B=1 ctx 4096 0..+1%, ctx 512 within noise.
# (Rewritten after it ran onto lib.sh's dr_build_old / dr_ab helpers: the same commands.)
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c6
dr_build klab_cli test_cuda_attn_decode_decode_test test_cuda_fused_decode_fused_decode_test
dr_build_old klab_cli
dr_test_sharded attn test_cuda_attn_decode_decode_test 8 200
dr_test_sharded fused test_cuda_fused_decode_fused_decode_test 4 150
wait
dr_pack
dr_ab b1-spec --variant split_kv_mma_cluster_spec decode-attn --batch 1 --len 4096,16384,32768 \
  --layout contiguous,paged
dr_ab b1-s2 --variant split_kv_mma_cluster_s2 decode-attn --batch 1 --len 4096,16384 \
  --layout contiguous,paged
dr_ab b8-32 --variant split_kv_mma_cluster_spec decode-attn --batch 8,16,32 --len 4096 \
  --layout contiguous
dr_pack
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
done
dr_finish
