#!/usr/bin/env bash
# Session 20 call 5 (H100): the wide-batch norm fold, second form. c4 measured the first form a
# loss: 7B Q4_0 B=16 fold 3,740.1 / 3,731.8 vs norm kernels 3,757.0 / 3,763.5 tok/s, and the
# kernel mode itself 4.9% under c3's base (the 4-bit SwiGLU kernel, carrying the consumer's
# 16 KiB staging loop inside its main loop and bounded to 128 registers, went 26.15 -> 31.96 µs
# a layer; O + down 28.43 -> 31.82: the producer's g load waited behind its y store, a second L2
# round trip at every block's end). Now: the producer loads residual and g before storing and
# adds each token's sum of x^2 with float atomics ([M] sums, zeroed by the consumer of the other
# norm and a memset at the step's start); the consumer copies M floats after its PDL wait; the
# 4-bit SwiGLU kernel unbounded again (128 registers, no stack; loop 888 -> 912 SASS lines, the
# copy's branch). Prediction: kernel mode back at c3's ~3,950; fold +1-1.5% over it (~4,000).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c5
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_model_batch_decode_test
for i in 1 2; do
  dr_e2e b16-fold-$i --model llama2-7b --weights q4_0 --batch 16
  KLAB_CUDA_WIDE_NORM=kernel dr_e2e b16-kernel-$i --model llama2-7b --weights q4_0 --batch 16
done
dr_e2e b1-1 --model llama2-7b --weights q4_0 --batch 1
dr_e2e 8b-b16-fold --model llama3-8b --weights q4_0 --batch 16
KLAB_CUDA_WIDE_NORM=kernel dr_e2e 8b-b16-kernel --model llama3-8b --weights q4_0 --batch 16
dr_finish
dr_test gemvq test_cuda_gemv_gemv_q_test 120 --gtest_filter='*WideFolded*:*WideDecodeBatches*:*Rejects*'
dr_test batch test_cuda_model_batch_decode_test 150
timeout 60 compute-sanitizer --tool memcheck --error-exitcode 99 \
  "$B/tests/test_cuda_gemv_gemv_q_test" --gtest_filter='*WideFolded*' > "$R/san-memcheck.log" 2>&1
echo "memcheck rc $? $(grep -E 'ERROR SUMMARY' "$R/san-memcheck.log") ($((SECONDS - t0))s)"
dr_finish
