#!/usr/bin/env bash
# session 19, call c4 (H100), probes for the next rule (no code change; c3's commit): with the
# R = 2 kernels now bounded for one block an SM (all of an iteration's loads issued together),
# two row tiles a block (KLAB_CUDA_WIDE_ROWS=2) at the shapes that take another count: SwiGLU
# 11008 / 14336 x 4096 (R = 1, 2.6 / 3.4 waves of two blocks; s18 c3 measured R = 2 at the
# two-block bound slower: 34.56 vs 29.76), QKV 12288 x 4096 (R = 3) and Llama-3-8B's 6144 x 4096
# (R = 1), the LM head 32000 x 4096 (split). Prediction: SwiGLU 11008 at R = 2 ~27 µs (one wave
# of loads-together blocks, 2.6 waves of 1 block), 14336 ~35 (split 34.3); QKV R = 2 slower
# than R = 3 (1.5 blocks an SM); 6144 x 4096 R = 2 ~ R = 1.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c4
dr_build klab_cli
for rows in rule 2; do
  if [ $rows = rule ]; then unset KLAB_CUDA_WIDE_ROWS; else export KLAB_CUDA_WIDE_ROWS=$rows; fi
  dr_bench "swiglu-$rows" --variant mma_wide_pdl gemv --M 16 --N 11008,14336 --K 4096,4096 \
    --epilogue swiglu
  dr_bench "swiglu-q8-$rows" --variant mma_wide_pdl gemv --bits 8 --M 16 --N 11008,14336 \
    --K 4096,4096 --epilogue swiglu
  dr_bench "plain-$rows" --variant mma_wide_pdl gemv --M 16 --N 12288,6144,32000 \
    --K 4096,4096,4096
  dr_bench "plain-q8-$rows" --variant mma_wide_pdl gemv --bits 8 --M 16 --N 12288,6144 \
    --K 4096,4096
done
unset KLAB_CUDA_WIDE_ROWS
dr_bench split-swiglu --variant mma_wide_split_pdl gemv --M 16 --N 14336 --K 4096 \
  --epilogue swiglu
dr_bench split --variant mma_wide_split_pdl gemv --M 16 --N 32000 --K 4096
dr_finish
