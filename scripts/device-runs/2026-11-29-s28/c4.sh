#!/usr/bin/env bash
# Session 28 c4 (H200): the batch-1 engine's remaining study switches on the new F16 default, the
# F16 norms' and attention's cost inside the graph, and the Q4_0 ones never re-run on the H200.
# Why: c1's F16 timeline (7B B=1 ctx 512, a layer): QKV 23.6 µs (its bytes 23.9 at copy),
# gate/up 43.1 (42.8), down 24.0 and O 12.3 (21.4 + 8.0), attention 8.2 (2.0), the norm after
# down 3.1 and the one after O 1.2. The 88% target needs ~5 µs a layer less. The switches below
# were chosen on the H100 (sessions 8-13) and never re-run on the H200 with the norm kernels.
# Prediction (default ~264.5 tok/s): DENSE_TRIGGER=late 0..+1.5% (c6 s27 had +1.3% with the fold),
# NORM_PDL=0 -1..-3%, SPREAD=0 within ±1%, QKV_TRIGGER=late within ±1%, DECODE_CLUSTER=8 -1..-3%,
# =2 within -2..0%; ablating both norms +3.5..+4% (4.3 µs a layer), ablating the attention
# +5..+7%. 7B Q4_0 (default ~570): SPREAD=0, NORM_PDL=0, DECODE_CLUSTER=8 each within ±1% or
# slower. 8B F16 (default 225.4 in c1): DENSE_NORM=fold within ±1%.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c4
dr_build klab_cli
e2e() {  # NAME MODEL WEIGHTS: B=1 ctx 512; switches go in front as VAR=VALUE
  dr_e2e "$1" --model "$2" --weights "$3" --batch 1
}
for i in 1 2; do
  e2e "f16-default-$i" llama2-7b f16
  KLAB_CUDA_DENSE_TRIGGER=late e2e "f16-dense-trigger-late-$i" llama2-7b f16
  KLAB_CUDA_NORM_PDL=0 e2e "f16-norm-pdl-off-$i" llama2-7b f16
  KLAB_CUDA_SPREAD=0 e2e "f16-spread-off-$i" llama2-7b f16
  KLAB_CUDA_QKV_TRIGGER=late e2e "f16-qkv-trigger-late-$i" llama2-7b f16
  KLAB_CUDA_DECODE_CLUSTER=8 e2e "f16-cluster8-$i" llama2-7b f16
  KLAB_CUDA_DECODE_CLUSTER=2 e2e "f16-cluster2-$i" llama2-7b f16
done
dr_pack
KLAB_CUDA_ABLATE=attn_norm,ffn_norm e2e f16-ablate-norms llama2-7b f16
KLAB_CUDA_ABLATE=attention e2e f16-ablate-attention llama2-7b f16
e2e q4-default-1 llama2-7b q4_0
KLAB_CUDA_SPREAD=0 e2e q4-spread-off llama2-7b q4_0
KLAB_CUDA_NORM_PDL=0 e2e q4-norm-pdl-off llama2-7b q4_0
KLAB_CUDA_DECODE_CLUSTER=8 e2e q4-cluster8 llama2-7b q4_0
e2e q4-default-2 llama2-7b q4_0
dr_pack
e2e 8b-f16-default-1 llama3-8b f16
KLAB_CUDA_DENSE_NORM=fold e2e 8b-f16-norm-fold llama3-8b f16
e2e 8b-f16-default-2 llama3-8b f16
dr_finish
