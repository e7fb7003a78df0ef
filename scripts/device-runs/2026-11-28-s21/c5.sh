#!/usr/bin/env bash
# Session 21 call 5 (H200, cold): where the batch-1 step goes on this card. c2/c3 measured 7B
# Q4_0 B=1 at 553.5 tok/s = 49.3% of the bound (H100, s20: 62%), Q8_0 71.4%, F16 81.0%, 8B Q4_0
# 51.0%: the bound fell by the copy ratio (4,175 vs ~2,990 GB/s, 1.40x) and the step by 1.10x.
# 1. Kernel timelines (CUPTI, inside the replayed graph) of those four cases, for the issue's
#    per-kernel breakdown, and the batch-1 GEMVs alone (mma_staged_pdl, M = 1, 7B shapes).
# 2. Probes of the staged GEMV's study switches on 7B Q4_0 B=1, alternating with the default.
#    If bytes in flight per SM are what the faster memory now lacks (Little: 4.2 TB/s x ~0.7 µs
#    = ~2.9 MB over 132 SMs, ~40% more than on the H100), more warps a block should gain:
#    prediction KLAB_CUDA_STAGED_WARPS=16 +1..+4%, =8 about neutral, ONE_WAVE=0 -1..-3%,
#    KLAB_CUDA_L2_PREFETCH=32 (next layer's weights into L2 on a side stream) -1..+2%.
#    If none gains, the loss is in the per-kernel ramp and tail, not the in-flight bytes.
# 3. KLAB_CUDA_DECODE_CLUSTER 8/12/16 on the decode attention B=1 S=16384 (66.6% of copy in c2).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c5
dr_build klab_cli
dr_timeline 7b-q4_0 q4_0 llama2-7b
dr_timeline 7b-q8_0 q8_0 llama2-7b
dr_timeline 7b-f16 f16 llama2-7b
dr_timeline 8b-q4_0 q4_0 llama3-8b
dr_bench staged-m1 --variant mma_staged_pdl gemv --M 1 --N 12288,4096,4096 --K 4096,4096,11008
dr_bench staged-m1-swiglu --variant mma_staged_pdl gemv --M 1 --N 11008 --K 4096 --epilogue swiglu
for i in 1 2; do
  dr_e2e base-$i --model llama2-7b --weights q4_0 --batch 1
  KLAB_CUDA_STAGED_WARPS=16 dr_e2e w16-$i --model llama2-7b --weights q4_0 --batch 1
  KLAB_CUDA_STAGED_WARPS=8 dr_e2e w8-$i --model llama2-7b --weights q4_0 --batch 1
  KLAB_CUDA_STAGED_ONE_WAVE=0 dr_e2e nowave-$i --model llama2-7b --weights q4_0 --batch 1
  KLAB_CUDA_L2_PREFETCH=32 dr_e2e l2pf-$i --model llama2-7b --weights q4_0 --batch 1
done
for c in 8 12 16; do
  KLAB_CUDA_DECODE_CLUSTER=$c dr_bench attn-c$c --variant split_kv_mma_cluster_spec decode-attn \
    --batch 1 --len 16384,4096 --layout contiguous
done
dr_finish
