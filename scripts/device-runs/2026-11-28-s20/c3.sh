#!/usr/bin/env bash
# Session 20 call 3 (H100): the upper bound of folding the two RMSNorm kernels a layer into the
# residual GEMVs before them (producer writes f16(h * g) and per-block sums of squares, the next
# GEMV scales its sums by inv_rms): KLAB_CUDA_ABLATE=ffn_norm,attn_norm drops the norm kernels
# from the decode step (logits wrong, timing only). s19 c3's B=16 timeline: norms 3.39 µs of
# advance a layer, 65 launches. Prediction: B=16 step -60..-100 µs (+1.5-2.5% tok/s), B=1
# +1.5-2.5%; the fold itself would keep part of that (F16's fold kept 1.6 of 4.4 µs a layer).
# If the bound at B=16 is under ~2%, the fold cannot carry B=16 / B=1 from 7.84x to 8x alone.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
dr_build klab_cli
for i in 1 2; do
  dr_e2e b16-base-$i --model llama2-7b --weights q4_0 --batch 16
  KLAB_CUDA_ABLATE=ffn_norm,attn_norm dr_e2e b16-nonorm-$i --model llama2-7b --weights q4_0 --batch 16
done
KLAB_CUDA_ABLATE=ffn_norm dr_e2e b16-noffn --model llama2-7b --weights q4_0 --batch 16
KLAB_CUDA_ABLATE=attn_norm dr_e2e b16-noattn --model llama2-7b --weights q4_0 --batch 16
for i in 1 2; do
  dr_e2e b1-base-$i --model llama2-7b --weights q4_0 --batch 1
  KLAB_CUDA_ABLATE=ffn_norm,attn_norm dr_e2e b1-nonorm-$i --model llama2-7b --weights q4_0 --batch 1
done
dr_e2e 8b-b16-base --model llama3-8b --weights q4_0 --batch 16
KLAB_CUDA_ABLATE=ffn_norm,attn_norm dr_e2e 8b-b16-nonorm --model llama3-8b --weights q4_0 --batch 16
for i in 1 2; do dr_e2e f16-b1-$i --model llama2-7b --weights f16 --batch 1; done
dr_finish
