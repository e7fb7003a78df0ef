#!/usr/bin/env bash
# Session 27 c6 (H200): the batch-1 engine's study switches, chosen on the H100 (sessions 8-20),
# re-measured on this card, one process a side: 7B F16 B=1 ctx 512 (default twice, then
# KLAB_CUDA_DENSE_NORM=kernel, KLAB_CUDA_DENSE_TRIGGER=late, KLAB_CUDA_DENSE_QKV=chain,
# KLAB_CUDA_DENSE_ROWS=4) and 7B Q4_0 (default twice, KLAB_CUDA_QKV_TRIGGER=late,
# KLAB_CUDA_DECODE_EARLY_KV=0, KLAB_CUDA_QKV_NORM=prologue). klab built on the dev machine from
# this commit. Prediction: every switch within ±1% of the default or slower (the H100 choices
# hold on the H200, as s21 c5 found for the staged GEMV's switches).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c6
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
mkdir -p /tmp/c6b && xz -dc "$DR_ROOT/.carry/klab.xz" > /tmp/c6b/klab && chmod +x /tmp/c6b/klab
K=/tmp/c6b/klab
e2e7b() {  # NAME WEIGHTS: B=1 ctx 512; a switch goes in front as VAR=VALUE (dr_e2e sees it)
  dr_e2e "$1" --model llama2-7b --weights "$2" --batch 1
}
e2e7b f16-default-1 f16
KLAB_CUDA_DENSE_NORM=kernel e2e7b f16-dense-norm-kernel f16
KLAB_CUDA_DENSE_TRIGGER=late e2e7b f16-dense-trigger-late f16
KLAB_CUDA_DENSE_QKV=chain e2e7b f16-dense-qkv-chain f16
KLAB_CUDA_DENSE_ROWS=4 e2e7b f16-dense-rows4 f16
e2e7b f16-default-2 f16
dr_pack
e2e7b q4-default-1 q4_0
KLAB_CUDA_QKV_TRIGGER=late e2e7b q4-qkv-trigger-late q4_0
KLAB_CUDA_DECODE_EARLY_KV=0 e2e7b q4-decode-early-kv-0 q4_0
KLAB_CUDA_QKV_NORM=prologue e2e7b q4-qkv-norm-prologue q4_0
e2e7b q4-default-2 q4_0
dr_finish
