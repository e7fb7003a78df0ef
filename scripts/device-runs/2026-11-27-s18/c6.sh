#!/usr/bin/env bash
# session 18, call c6 (H100): why c1's code ring was slower. c2's ncu put the one-tile kernels'
# waits on their code loads (the first decode LOP3 of an iteration: 33% of O's stall samples,
# 43% of SwiGLU's), which the ring was built to hide. Hypothesis: the ring's dynamic shared
# memory moved the carveout and shrank the L1, which serves ~38% of the x loads (each block reads
# all of x). The ring again (its launch fixed: c1's failures were a once-per-function opt-in
# shared by every kernel), with two study switches: KLAB_CUDA_WIDE_SMEM_PAD (bytes of unused
# dynamic shared memory: the ring's L1 cost without the ring) and KLAB_CUDA_WIDE_CARVEOUT
# (preferred carveout, percent). Prediction: ring off + 32 KB pad about as slow as c1's ring
# (O ~10 us); ring on with a small carveout (25%) faster than ring off (O 8.3 -> ~6.5 us).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c6
dr_build klab_cli test_cuda_gemv_gemv_q_test
dr_test gemvq test_cuda_gemv_gemv_q_test 300 --gtest_filter='GemvQ.Wide*'
bench() {  # NAME ARGS...
  local name=$1
  shift
  timeout 60 "$K" bench --variant mma_wide_pdl gemv --M 16 "$@" --json "$R/gemv-$name.json" \
    > "$R/gemv-$name.txt" 2>&1
  echo "$name: $(grep -hE '^gemv ' "$R/gemv-$name.txt" | awk '{print $3 "=" $5}' | tr '\n' ' ')"
}
shapes=(--N 4096,12288,4096 --K 4096,4096,11008)
swiglu=(--N 11008 --K 4096 --epilogue swiglu)
for cfg in "off 0 -" "off 32768 -" "on 0 -" "on 0 25" "off 0 25" "on 0 100"; do
  set -- $cfg
  export KLAB_CUDA_WIDE_RING=$1 KLAB_CUDA_WIDE_SMEM_PAD=$2
  if [ "$3" = - ]; then unset KLAB_CUDA_WIDE_CARVEOUT; else export KLAB_CUDA_WIDE_CARVEOUT=$3; fi
  bench "ring-$1-pad$2-co$3" "${shapes[@]}"
  bench "ring-$1-pad$2-co$3-swiglu" "${swiglu[@]}"
done
unset KLAB_CUDA_WIDE_RING KLAB_CUDA_WIDE_SMEM_PAD KLAB_CUDA_WIDE_CARVEOUT
for i in 1 2; do
  KLAB_CUDA_WIDE_RING=off dr_e2e b16-off$i --model llama2-7b --weights q4_0 --batch 16
  dr_e2e b16-on$i --model llama2-7b --weights q4_0 --batch 16
done
dr_finish
