#!/usr/bin/env bash
# Session 28 c6 (H200): where the batch-1 step's hand-offs cost, by ablation inside the graph
# (KLAB_CUDA_ABLATE leaves the named parts out of every decode step: timing only, the output is
# wrong), and the 8B F16 timelines of the two norm modes. klab built on the dev machine from
# this session's final code (c392b01's src).
# Why: c4 found the F16 attention worth +4.4% of the step if it were free and the two norm
# kernels worth -1.9% (their absence slows the step). The misses' breakdown wants the O
# projection's and the Q4_0 attention's and norms' share too; and c4/c5 found the norm fold
# +1.2% at 8B F16 where it is -2.9% at 7B.
# Prediction: 7B F16 B=1 (default ~263): without O +4..+6%, without attention and O +8..+10%;
# 7B Q4_0 B=1 (default ~568): without attention +8..+11%, without the norms -2..+3%, without O
# +5..+8%; 8B F16 timelines: the fold's layer ~1.5 µs shorter where the two norm kernels were.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c6
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
mkdir -p /tmp/c6b && xz -dc "$DR_ROOT/.carry/klab.xz" > /tmp/c6b/klab && chmod +x /tmp/c6b/klab
K=/tmp/c6b/klab
e2e() {  # NAME MODEL WEIGHTS: B=1 ctx 512; switches go in front as VAR=VALUE
  dr_e2e "$1" --model "$2" --weights "$3" --batch 1
}
e2e f16-default-1 llama2-7b f16
KLAB_CUDA_ABLATE=o_proj e2e f16-ablate-o llama2-7b f16
KLAB_CUDA_ABLATE=attention,o_proj e2e f16-ablate-attention-o llama2-7b f16
KLAB_CUDA_ABLATE=attention e2e f16-ablate-attention llama2-7b f16
e2e f16-default-2 llama2-7b f16
dr_pack
e2e q4-default-1 llama2-7b q4_0
KLAB_CUDA_ABLATE=attention e2e q4-ablate-attention llama2-7b q4_0
KLAB_CUDA_ABLATE=attn_norm,ffn_norm e2e q4-ablate-norms llama2-7b q4_0
KLAB_CUDA_ABLATE=o_proj e2e q4-ablate-o llama2-7b q4_0
e2e q4-default-2 llama2-7b q4_0
dr_pack
dr_timeline 8b-f16-default f16 llama3-8b
KLAB_CUDA_DENSE_NORM=fold dr_timeline 8b-f16-fold f16 llama3-8b
dr_finish
