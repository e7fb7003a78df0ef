#!/usr/bin/env bash
# session 15, call c1 (H100): mma_wide_split (8 row tiles a block sharing x through a block-wide
# cp.async ring, K split over a cluster) for 9..16-token decode GEMVs, against mma_wide.
# Prediction (written before the run), M = 16, 4-bit g32, us: 12288 x 4096 17.8 -> ~12,
# 4096 x 4096 8.8 -> ~5.5, 4096 x 11008 22.5 -> ~12.5, SwiGLU 11008 x 4096 38.9 -> ~23; the
# 7B Q4_0 B=16 ctx 512 step ~15% faster (3,485 -> ~4,000 tok/s).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
dr_build klab_cli test_cuda_gemv_gemv_q_test
dr_test gemvq test_cuda_gemv_gemv_q_test 300 \
  --gtest_filter='*WideSplit*:*Swiglu*:*WideDecodeBatches*:*WidePdl*:*Rejects*'
bench() {  # NAME ARGS...
  local name=$1
  shift
  timeout 120 "$K" bench "$@" --json "$R/gemv-$name.json" > "$R/gemv-$name.txt" 2>&1
  echo "gemv $name rc $? ($((SECONDS - t0))s)"
}
for v in mma_wide_pdl mma_wide_split_pdl; do
  bench "$v" --variant "$v" gemv --M 16 --N 12288,4096,4096,32000 --K 4096,4096,11008,4096
  bench "$v-swiglu" --variant "$v" gemv --M 16 --N 11008 --K 4096 --epilogue swiglu
  bench "$v-q8" --variant "$v" gemv --bits 8 --M 16 --N 12288,4096,4096 --K 4096,4096,11008
done
for s in 1 2 4 8; do
  KLAB_CUDA_WIDE_SPLIT=$s bench "split$s" --variant mma_wide_split_pdl gemv --M 16 \
    --N 12288,4096,4096 --K 4096,4096,11008
done
for s in 2 3 4; do
  KLAB_CUDA_WIDE_SPLIT=$s bench "split$s-swiglu" --variant mma_wide_split_pdl gemv --M 16 \
    --N 11008 --K 4096 --epilogue swiglu
done
for i in 1 2; do
  KLAB_CUDA_GEMV=mma_wide_pdl dr_e2e b16-wide$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-split$i --model llama2-7b --weights q4_0 --batch 16
done
grep -hE "gemv_mma_wide" "$R"/gemv-*.txt | head -60
dr_finish
