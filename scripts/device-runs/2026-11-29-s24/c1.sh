#!/usr/bin/env bash
# Session 24 c1 (H200): `split_kv_mma_cluster_w12_spec`, the speculative cluster decode with 12
# warps a CTA and 2-stage rings (D = 128: the same 24 tiles in flight an SM as `_spec`'s 8 warps
# x 3 stages, at 168 registers, 4 bytes of spill, against 209).
# Why: s23 c5's ncu of `_spec` at B=1 S=16384 reads as each warp's dependency chain bounding the
# stream (issue slots ~44% busy on the 72 active SMs, `wait` and `selected` the top stalls, 2 warps
# a scheduler); a third warp a scheduler hides those chains without fewer bytes in flight.
# Prediction (bf16 32/8 d128, µs, against `_spec` in the same call: c6's 9.66 / 14.51 / 23.36 /
# 37.76 at S=4096 / 8192 / 16384 / 32768): S=16384 -> 20.5-22.5, S=32768 -> 32-36, S=4096
# 9.3-10.0; paged16 alike; B=8-32 S=4096 within 3%. Refuted if S=16384 is not below 22.8.
# Also the whole decode test binary with the new variant (and c6's loop, which only c6 tested).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
dr_build klab_cli test_cuda_attn_decode_decode_test
dr_test_sharded attn test_cuda_attn_decode_decode_test 8 200
dr_pack
for v in split_kv_mma_cluster_spec split_kv_mma_cluster_w12_spec; do
  dr_bench "b1-$v" --variant "$v" decode-attn --batch 1 --len 4096,8192,16384,32768 \
    --layout contiguous,paged
done
dr_bench "b1-again-spec" --variant split_kv_mma_cluster_spec decode-attn --batch 1 \
  --len 4096,16384 --layout contiguous
dr_bench "b1-again-w12" --variant split_kv_mma_cluster_w12_spec decode-attn --batch 1 \
  --len 4096,16384 --layout contiguous
for v in split_kv_mma_cluster_spec split_kv_mma_cluster_w12_spec; do
  dr_bench "b8-32-$v" --variant "$v" decode-attn --batch 8,16,32 --len 4096 --layout contiguous
done
dr_finish
