#!/usr/bin/env bash
# Prepared in session 21 for the next session's first call (H200): two measurements session 21
# had no device time left for. Move it to scripts/device-runs/<date>-sNN/c1.sh when it runs.
# 1. The q8-activation GEMV end to end on the H200. s21 c8's one-token ladder had `dp4a_pdl`
#    fastest at 12288 x 4096 (10.85 vs 12.24 µs) and 4096 x 4096 (5.64 vs 6.06), even at the
#    other two shapes; session 4 (H200, older auto) measured +15% end to end. With
#    KLAB_CUDA_GEMV=dp4a_pdl the fused QKV block keeps its staged kernel, so only O, down and
#    gate/up change. Prediction: 7B Q4_0 B=1 -1..+3%, Q8_0 about even, B=16 unchanged (the wide
#    batch runs mma_wide whatever the forced one-token variant).
# 2. racecheck of the binaries that ran past 180 s whole in s21 c6, as 8 gtest shards each
#    (gpu-check.sh's KLAB_SANITIZER_SHARDS). Expected: 0 hazards except the known bar.arrive
#    report in gemv_mma_wide_staged_kernel (s21 c7: a racecheck limitation).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start next-c1
dr_build klab_cli
for i in 1 2; do
  for w in q4_0 q8_0; do
    dr_e2e "7b-$w-auto-$i" --model llama2-7b --weights "$w" --batch 1
    KLAB_CUDA_GEMV=dp4a_pdl dr_e2e "7b-$w-dp4a-$i" --model llama2-7b --weights "$w" --batch 1
  done
  dr_e2e "8b-q4_0-auto-$i" --model llama3-8b --weights q4_0 --batch 1
  KLAB_CUDA_GEMV=dp4a_pdl dr_e2e "8b-q4_0-dp4a-$i" --model llama3-8b --weights q4_0 --batch 1
done
mkdir -p "$R/san"
KLAB_GPU_CHECK_ONLY=sanitizer KLAB_RACECHECK=1 KLAB_SANITIZER_SHARDS=8 KLAB_SANITIZER_JOBS=16 \
  KLAB_TEST_FILTER='gemv_gemv_q|fused_decode|qkv_qkv' KLAB_SANITIZER_TIMEOUT=200 \
  OUT="$R/san" bash scripts/gpu-check.sh 2>&1 | tail -6
dr_finish
