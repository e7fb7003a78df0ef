#!/usr/bin/env bash
# Session 23 c4 (H200): `split_kv_mma_cluster_grouped`, the speculative 8-warp cluster decode in
# up to 4 clusters a (sequence, KV head tile), merged through the workspace by the last CTA.
# Why: c1b (probe): at one CTA an SM the card holds 9 clusters of 9 but 7 of 16, so one
# sequence's 8 KV heads stream from 72 SMs (`_spec`); c2 and c3: the B=1 stream is bound by the
# bytes in flight, i.e. by the SMs taking part at 8 warps x 3 tiles each (more SMs at 4 warps,
# or L2 prefetches, lost). Two clusters of 6 a head = 96 SMs of `_spec`'s CTA, all resident.
# Prediction (bf16 32/8 d128, B=1, µs, against `_spec`): contiguous S=16384 24.1 -> 21-22
# (stream ~19.2 -> ~15.6 at the ~4.3 TB/s a full-card read reaches, plus ~0.5-1 for the
# cross-cluster merge), S=32768 39.1 -> 33-36, S=8192 14.8 -> 13.5-14.5, S=4096 9.8 -> 9.5-10.5;
# paged16 alike. If S=16384 gains >= 5%, `auto` takes it for one long contiguous GQA sequence.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c4
dr_build klab_cli test_cuda_attn_decode_decode_test
dr_test_sharded attn test_cuda_attn_decode_decode_test 8 200
dr_pack
for i in 1 2; do
  for v in split_kv_mma_cluster_spec split_kv_mma_cluster_grouped; do
    dr_bench "b1-$v-$i" --variant "$v" decode-attn --batch 1 --len 4096,8192,16384,32768 \
      --layout contiguous,paged
  done
  dr_pack
done
dr_bench "b2-grouped" --variant split_kv_mma_cluster_grouped decode-attn --batch 2,4 \
  --len 4096,16384 --layout contiguous,paged
dr_finish
