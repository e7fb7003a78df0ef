#!/usr/bin/env bash
# Session 20 call 2 (H100): split_kv_mma_cluster_w2 (2 warps, 2-stage rings, ~47 KiB, 207
# registers at D = 128: four CTAs an SM) against _s2 (4 warps, ~78 KiB: two an SM) where the
# grid is one CTA a (sequence, head): Llama-2-7B B=16 ctx 512 is 512 CTAs, 1.94 waves of _s2's
# 264 slots, one wave of w2's 528. s19 c3's timeline: the attention is 48.58 of the B=16 step's
# 125.4 µs a layer, 44.8 of bytes at copy speed; s6 c1 bench MHA B=16 S=512 _s2 51.04 µs (88%),
# paged16 54.30.
# Prediction: bench MHA 32/32 B=16 S=512 contiguous 51 -> ~47 µs, paged16 54 -> ~50; in the
# engine the attention 48.6 -> ~45.5 µs a layer, 7B Q4_0 B=16 +2-2.5% (3,950 -> ~4,040 tok/s);
# S=4096 and GQA shapes (several waves either way) within +-2%.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c2
dr_build klab_cli test_cuda_attn_decode_decode_test
dr_test attn test_cuda_attn_decode_decode_test 300
for v in split_kv_mma_cluster_s2 split_kv_mma_cluster_w2; do
  dr_bench "mha-$v" --variant $v decode-attn --batch 16,32 --len 512,4096 --hq 32 --hkv 32 \
    --layout contiguous,paged
  dr_bench "gqa-$v" --variant $v decode-attn --batch 16,32 --len 512,4096 --layout contiguous,paged
done
for i in 1 2; do
  dr_e2e b16-s2-$i --model llama2-7b --weights q4_0 --batch 16
  KLAB_CUDA_DECODE_ATTN=split_kv_mma_cluster_w2 dr_e2e b16-w2-$i --model llama2-7b --weights q4_0 --batch 16
done
dr_e2e b1-1 --model llama2-7b --weights q4_0 --batch 1
dr_e2e q8-b16-s2 --model llama2-7b --weights q8_0 --batch 16
KLAB_CUDA_DECODE_ATTN=split_kv_mma_cluster_w2 dr_e2e q8-b16-w2 --model llama2-7b --weights q8_0 --batch 16
dr_e2e 8b-b16-s2 --model llama3-8b --weights q4_0 --batch 16
KLAB_CUDA_DECODE_ATTN=split_kv_mma_cluster_w2 dr_e2e 8b-b16-w2 --model llama3-8b --weights q4_0 --batch 16
dr_e2e b1-2 --model llama2-7b --weights q4_0 --batch 1
KLAB_CUDA_DECODE_ATTN=split_kv_mma_cluster_w2 dr_e2e tl-w2 --model llama2-7b --weights q4_0 \
  --batch 16 --timeline "$R/tl-w2"
grep -A9 "advance/us" "$R/e2e-tl-w2.txt" | cut -c1-120
timeout 120 compute-sanitizer --tool racecheck --error-exitcode 99 \
  "$B/tests/test_cuda_attn_decode_decode_test" \
  --gtest_filter='*cluster_w2_f16_d128_g4_page16:*cluster_w2_bf16_d128_g1_contig:*cluster_w2_f16_d64_g8_contig:*cluster_w2_bf16_d128_g1_page17' \
  > "$R/san-racecheck.log" 2>&1
echo "racecheck rc $? $(grep -E 'RACECHECK SUMMARY' "$R/san-racecheck.log")"
timeout 90 compute-sanitizer --tool memcheck --error-exitcode 99 \
  "$B/tests/test_cuda_attn_decode_decode_test" --gtest_filter='*cluster_w2*_page16:*cluster_w2*_page15' \
  > "$R/san-memcheck.log" 2>&1
echo "memcheck rc $? $(grep -E 'ERROR SUMMARY' "$R/san-memcheck.log")"
dr_finish
