#!/usr/bin/env bash
# Prepared in session 21 for the next session's first call (H200): a measurement session 21 had
# no device time left for. Move it to scripts/device-runs/<date>-sNN/c1.sh when it runs.
# The q8-activation GEMV end to end on the H200. s21 c8's one-token ladder had `dp4a_pdl`
#    fastest at 12288 x 4096 (10.85 vs 12.24 µs) and 4096 x 4096 (5.64 vs 6.06), even at the
#    other two shapes; session 4 (H200, older auto) measured +15% end to end. With
#    KLAB_CUDA_GEMV=dp4a_pdl every quantized GEMV takes it, and the QKV block leaves the fused
#    `staged` kernel for the chain (dp4a GEMV, then qkv_rope_kv_write: chain_runs_staged is false
#    for any forced variant but an mma_staged one),
#    so the QKV's ~1.4 µs a layer saved pays for one more launch. Prediction: 7B Q4_0 B=1
#    -2..+3%, Q8_0 about even.
# Then Nsight Compute on one QKV-shaped launch (12288 x 4096, M = 1, mma_staged_pdl), to test
# session 21's reading that the one-token GEMV is ramp-and-tail bound on this card (a block
# streams one ~36 KB tile): expect DRAM throughput well under the copy's during the launch and
# most warp samples on the prologue's and the ring's waits, as on the H100 (s19 c6: DRAM 57%).
# (c2.sh beside it: the sharded racecheck.)
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
dr_build klab_cli
for i in 1 2; do
  for w in q4_0 q8_0; do
    dr_e2e "7b-$w-auto-$i" --model llama2-7b --weights "$w" --batch 1
    KLAB_CUDA_GEMV=dp4a_pdl dr_e2e "7b-$w-dp4a-$i" --model llama2-7b --weights "$w" --batch 1
  done
  dr_e2e "8b-q4_0-auto-$i" --model llama3-8b --weights q4_0 --batch 1
  KLAB_CUDA_GEMV=dp4a_pdl dr_e2e "8b-q4_0-dp4a-$i" --model llama3-8b --weights q4_0 --batch 1
done
dr_ncu qkv gemv_mma_staged --variant mma_staged_pdl gemv --M 1 --N 12288 --K 4096
dr_finish
