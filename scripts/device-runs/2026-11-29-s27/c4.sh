#!/usr/bin/env bash
# Session 27 c4 (H200): the F16 batch-1 QKV GEMV with 2 rows a warp instead of 4.
# Why: in s26 c8's 7B F16 timeline the gate/up GEMV (`gemv_dense_vec16_kernel<.., 2, 4, true ..>`,
# 2,752 blocks) streams at 98% of copy while the QKV block (`<.., 4, 2, false, true, true>`, 768
# blocks: ~23 warps an SM, 4 KB in flight a warp, the whole grid resident at once) takes 32.6 µs
# a layer for 24.1 µs of bytes (74%); the same loads as gate/up's per lane (8 x 16 bytes), but half
# the warps an SM. KLAB_CUDA_DENSE_QKV_ROWS=2 gives the one-token QKV kernel gate/up's shape (2
# rows, 4 loads each, 1,536 blocks). If warps in flight are what the QKV lacks: prediction QKV
# 32.6 -> 26-28 µs a layer, 7B F16 B=1 ctx 512 252 -> 258-264 tok/s (+2.5..+5%); F16 B=4 (4-row
# kernel, unchanged) within ±1%.
# Binaries built on the dev machine from this commit and carried (klab, the QKV and fused decode
# tests; the CUDA session test did not fit the carry limit); each side is one process with or without the switch.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c4
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
B=/tmp/c4b
mkdir -p "$B/tests" "$B/bin"
xz -dc "$DR_ROOT/.carry/klab.xz" > "$B/bin/klab"
for t in qkv_qkv fused_decode_fused_decode; do
  xz -dc "$DR_ROOT/.carry/t_$t.xz" > "$B/tests/test_cuda_${t}_test"
done
chmod +x "$B"/bin/* "$B"/tests/*
K=$B/bin/klab
export KLAB_CUDA_DENSE_QKV_ROWS=2
dr_test_sharded qkv2 test_cuda_qkv_qkv_test 8 150
dr_test_sharded fused2 test_cuda_fused_decode_fused_decode_test 8 150
unset KLAB_CUDA_DENSE_QKV_ROWS
dr_pack
for i in 1 2; do
  dr_e2e "f16-rows4-$i" --model llama2-7b --weights f16 --batch 1
  KLAB_CUDA_DENSE_QKV_ROWS=2 dr_e2e "f16-rows2-$i" --model llama2-7b --weights f16 --batch 1
done
dr_e2e "f16-b4-rows4" --model llama2-7b --weights f16 --batch 4
KLAB_CUDA_DENSE_QKV_ROWS=2 dr_e2e "f16-b4-rows2" --model llama2-7b --weights f16 --batch 4
dr_pack
KLAB_CUDA_DENSE_QKV_ROWS=2 dr_timeline f16-rows2 f16 llama2-7b
dr_finish
