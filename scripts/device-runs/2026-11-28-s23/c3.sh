#!/usr/bin/env bash
# Session 23 c3 (H200): L2 prefetch ahead of the cluster decode's ring (DecodeParams::l2_ahead,
# KLAB_CUDA_DECODE_L2_AHEAD = tiles; default 0 = off in this build).
# Why: c2 and s21 say B=1 long-sequence decode is bound by bytes in flight: `_spec` (8 warps x 3
# tiles an SM, 72 SMs, ~13.8 MB in flight) streams at ~3.5 TB/s, B=32 (`_s2` on all 132 SMs,
# ~16.9 MB) at ~4.35; a CTA cannot hold more in its ring (228 KiB an SM) and more SMs at fewer
# warps (c2's `_s3_spec`) lost. A bulk L2 prefetch of the tile `l2_ahead` past the one a warp
# copies keeps more of the range on its way from DRAM without shared memory, and the ring's
# copies then hit L2 (shorter turnaround).
# Prediction (bf16 32/8 d128, B=1): contiguous S=16384 24.1 -> 20.5-22 µs at l2_ahead 4 (72-80%
# of copy), S=32768 39.1 -> 33-36, S=4096 within ±0.3 µs; paged16 alike; l2_ahead 0 equal to c2
# within 1% (the kernel holds 232 registers now, 202 before, no spills). End to end (7B Q4_0 B=1
# ctx 4096, where the engine runs `_s2`): 0..+2%.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
dr_build klab_cli test_cuda_attn_decode_decode_test
KLAB_CUDA_DECODE_L2_AHEAD=4 dr_test_sharded attn-ahead4 test_cuda_attn_decode_decode_test 8 200
dr_pack
for a in 0 4 2 8; do
  KLAB_CUDA_DECODE_L2_AHEAD=$a dr_bench "spec-ahead$a" --variant split_kv_mma_cluster_spec \
    decode-attn --batch 1 --len 4096,16384,32768 --layout contiguous,paged
done
for a in 0 4; do
  KLAB_CUDA_DECODE_L2_AHEAD=$a dr_bench "s2-ahead$a" --variant split_kv_mma_cluster_s2 \
    decode-attn --batch 1,8 --len 4096,16384 --layout contiguous,paged
done
dr_pack
e2e4096() {  # NAME L2_AHEAD (dr_e2e fixes --ctx 512)
  KLAB_CUDA_DECODE_L2_AHEAD=$2 timeout 100 "$K" bench e2e --prompt 0 --ctx 4096 \
    --model llama2-7b --weights q4_0 --batch 1 --json "$R/e2e-$1.json" > "$R/e2e-$1.txt" 2>&1
  echo "$1: $(grep -hoE '[0-9.,]+ tokens/s' "$R/e2e-$1.txt" | tr '\n' ' ')($((SECONDS - t0))s)"
}
for i in 1 2; do
  e2e4096 "7b-q4_0-ctx4096-ahead0-$i" 0
  e2e4096 "7b-q4_0-ctx4096-ahead4-$i" 4
  dr_pack
done
dr_finish
