#!/usr/bin/env bash
# session 14, call c1 (H100): the O projection prestaged beside the decode attention.
# Change: at one-sequence decode steps the O GEMV (mma_staged_pdl) runs 4 warps with 16-deep
# rings (15 of each warp's 16 chunks requested before griddepcontrol.wait at 4 bits, K = 4096)
# and its spread leaves the attention CTA's shared memory free on each SM
# (GemvArgs::spread_beside = decode_attention_cta_smem, ~77 KB for _s2), so two O blocks
# (~47 KB each) sit beside each attention CTA and stream the O weights while the latency-bound
# attention runs; before, spread asked ~73 KB a block, so one fitted beside an attention CTA
# and requested 7 of 16 chunks, and the other ~120 blocks waited for SMs.
# Prediction (written before the run): 7B Q4_0 B=1 ctx 512: O advance 5.1 -> ~2.9 us a layer,
# the step -60..-70 us, +3..3.5% (~504 -> ~520 tok/s); 8B Q4_0 +3%; Q8_0 (15 of 32 chunks
# before the wait) O 7.1 -> ~5.5, +1.5%; attention advance unchanged or +0.5 us (the O bytes
# now compete with the K/V stream). KLAB_CUDA_O_PRESTAGE=0 is the old launch.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
dr_build klab_cli test_cuda_gemv_gemv_q_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_attn_decode_decode_test test_cuda_model_cuda_session_test
dr_test gemvq test_cuda_gemv_gemv_q_test 120 --gtest_filter='*Prestage*:*Spread*:*Residual*:*OneWave*'
dr_test fused test_cuda_fused_decode_fused_decode_test 150
dr_test attn test_cuda_attn_decode_decode_test 100 --gtest_filter='*CtaSmem*:*AutoAtOne*:*ClusterHistory*'
dr_test session test_cuda_model_cuda_session_test 150
timeout 120 compute-sanitizer --tool memcheck "$B/tests/test_cuda_gemv_gemv_q_test" \
  --gtest_filter='*Prestage*' > "$R/memcheck.log" 2>&1
echo "memcheck rc $? $(grep -E 'ERROR SUMMARY' "$R/memcheck.log")"
for rep in 1 2; do
  KLAB_CUDA_O_PRESTAGE=0 dr_e2e 7b-q4-off-$rep --model llama2-7b --weights q4_0 --batch 1
  dr_e2e 7b-q4-on-$rep --model llama2-7b --weights q4_0 --batch 1
done
for rep in 1 2; do
  KLAB_CUDA_O_PRESTAGE=0 dr_e2e 7b-q8-off-$rep --model llama2-7b --weights q8_0 --batch 1
  dr_e2e 7b-q8-on-$rep --model llama2-7b --weights q8_0 --batch 1
done
KLAB_CUDA_O_PRESTAGE=0 dr_e2e 8b-q4-off --model llama3-8b --weights q4_0 --batch 1
dr_e2e 8b-q4-on --model llama3-8b --weights q4_0 --batch 1
for mode in off on; do
  v=1; [ $mode = off ] && v=0
  KLAB_CUDA_O_PRESTAGE=$v timeout 100 "$K" bench e2e --prompt 0 --ctx 512 --model llama2-7b \
    --weights q4_0 --batch 1 --timeline "$R/tl-q4-$mode" > "$R/tl-q4-$mode.txt" 2>&1
  echo "timeline $mode: $(grep -hE 'timeline .*a step' "$R/tl-q4-$mode.txt" | cut -c1-120)"
  grep -E "^  " "$R/tl-q4-$mode.txt" | grep -v "GB/s\|TFLOP" | cut -c1-150 | head -8
done
dr_finish
