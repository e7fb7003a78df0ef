#!/usr/bin/env bash
# session 18, call c3 (H100): row tiles a block for the 4-bit M = 16 GEMVs since session 17's
# interior loop. c2 (ncu) put the one-tile kernels' stalls on the code loads (long scoreboard at
# the first decode LOP3: 33% of O's samples, 43% of SwiGLU's) with an L1 hit rate of 38%, and c1's
# ring (every code requested early, a smaller L1) was slower: x's L2 traffic (each block reads all
# of x: 32 MB for O, 88 MB for the 7B SwiGLU at one tile a block, against 8.4 / 50.7 MB of codes)
# is the other half of the cost. More tiles a block divide it. Every R forced with
# KLAB_CUDA_WIDE_ROWS (capped per case at what is compiled). Prediction: SwiGLU 11008 x 4096
# R = 2 ~10% faster than R = 1 (29.8 us), O and down unchanged or slower at R = 2 (one block an SM).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
dr_build klab_cli
bench() {  # NAME ARGS...
  local name=$1
  shift
  timeout 120 "$K" bench "$@" --json "$R/gemv-$name.json" > "$R/gemv-$name.txt" 2>&1
  echo "gemv $name rc $? ($((SECONDS - t0))s)"
}
for r in 1 2 3 4 1; do
  export KLAB_CUDA_WIDE_ROWS=$r
  bench "r$r" --variant mma_wide_pdl gemv --M 16 --N 4096,4096,32000,12288 --K 4096,11008,4096,4096
  bench "r$r-swiglu" --variant mma_wide_pdl gemv --M 16 --N 11008,14336 --K 4096,4096 \
    --epilogue swiglu
  bench "r$r-q8-swiglu" --variant mma_wide_pdl gemv --bits 8 --M 16 --N 11008 --K 4096 \
    --epilogue swiglu
  grep -hE "^gemv " "$R/gemv-r$r.txt" "$R/gemv-r$r-swiglu.txt" "$R/gemv-r$r-q8-swiglu.txt" | \
    awk -v r=$r '{print "R=" r, $3, $4, $5}'
done
dr_finish
