#!/usr/bin/env bash
# Session 28 c2: run as scripts/device-runs/next/dense-x-prefetch.sh from commit ab433cf (right after c1,
# warm); measured 45% slower end to end and removed (see bench/results/2026-11-29-s28-logs/README.md).
# Prepared in session 27 (not run: no device time left), for after next/f16-defaults.sh.
# Why: the one-token dense GEMVs (F16 decode: QKV, gate/up, O, down, LM head) load x one u at a
# time behind each u's FMAs (SASS of the one-row kernel: `LDG.E.128 R4, [R50+0x200*u]` after the
# previous u's FFMA chain and its `break` test), so an iteration that reaches new columns waits
# for up to 8 L2 round trips in a row (the O projection's two iterations a row right after the
# attention; every warp starts cold). KLAB_CUDA_DENSE_X_PREFETCH=1 prefetches the iteration's x
# into L1 (`prefetch.global.L1`, one CCTL.E.PF1 a u, after the PDL wait) right after its weight
# loads; the default kernels' SASS is unchanged (cuobjdump, all 52 functions), the new ones take
# 56-64 registers, no stack.
# Prediction: tests pass with the switch; O -1..-2 µs a layer, QKV / down within ±0.5; 7B F16
# B=1 +1..+3% (default ~264 tok/s); a miss says the x chain is hidden by the 8 warps a scheduler.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start xpf
dr_build klab_cli test_cuda_gemv_gemv_dense_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_model_cuda_session_test
export KLAB_CUDA_DENSE_X_PREFETCH=1
dr_test dense test_cuda_gemv_gemv_dense_test 200
dr_test_sharded fused test_cuda_fused_decode_fused_decode_test 8 150
dr_test session test_cuda_model_cuda_session_test 200 --gtest_filter='-*RealModel*'
unset KLAB_CUDA_DENSE_X_PREFETCH
dr_pack
for i in 1 2; do
  dr_e2e "f16-default-$i" --model llama2-7b --weights f16 --batch 1
  KLAB_CUDA_DENSE_X_PREFETCH=1 dr_e2e "f16-xpf-$i" --model llama2-7b --weights f16 --batch 1
done
dr_pack
dr_timeline f16-default f16 llama2-7b
KLAB_CUDA_DENSE_X_PREFETCH=1 dr_timeline f16-xpf f16 llama2-7b
dr_finish
