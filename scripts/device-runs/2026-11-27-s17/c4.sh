#!/usr/bin/env bash
# session 17, call c4 (H100): the final code. c3 measured the SwiGLU rule: 7B Q4_0 B=16 +6.5%
# (3,622.2 / 3,630.8 -> 3,853.5 / 3,871.8) but Llama-3-8B Q4_0 B=16 -5.8% (4,955.3 -> 4,670.1),
# so SwiGLU stays on mma_wide_split where N > 12288 (8B's 14336). Full build; every GPU test
# but the attention, KV-append, sampling, RoPE, norm, elementwise and dequant families (code not
# touched this session; session 16's c7 ran them on the same kernels); compute-sanitizer
# memcheck of the interior / rest test; the SwiGLU 14336 x 4096 GEMV on both variants; end to
# end at the issue-8 shapes.
# Prediction (written before the run): tests pass, memcheck 0 errors; 7B Q4_0 B=16 ~3,860
# (c3), 8B Q4_0 B=16 back to ~4,950 (c3's split run), Q8_0 B=16 ~3,070 (c1), B=1 ~506;
# SwiGLU 14336 x 4096: split ahead of mma_wide.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c4
dr_build
(cd "$B" && timeout 300 ctest -L gpu -j10 --timeout 250 \
  -E 'Decode(Attn|Split|Group|Layout|Args)|Prefill|KvAppend|Sampling|Rope|RmsNorm|Elementwise|Dequant|SplitPlan|TiledLayout' \
  > "$R/ctest.log" 2>&1)
echo "ctest rc $? $(grep -E 'tests passed|tests failed' "$R/ctest.log") ($((SECONDS - t0))s)"
grep -E "\*\*\*Failed|\*\*\*Timeout|Exception" "$R/ctest.log" | head -10
timeout 90 compute-sanitizer --tool memcheck --error-exitcode 3 \
  "$B/tests/test_cuda_gemv_gemv_q_test" --gtest_filter='*WideInteriorAndRest*' \
  > "$R/memcheck-interior.log" 2>&1
echo "memcheck rc $? $(grep -E 'ERROR SUMMARY|PASSED|FAILED' "$R/memcheck-interior.log" | tr '\n' ' ') ($((SECONDS - t0))s)"
for v in mma_wide_pdl mma_wide_split_pdl; do
  timeout 60 "$K" bench --variant "$v" gemv --M 16 --N 14336,11008 --K 4096,4096 \
    --epilogue swiglu --json "$R/gemv-swiglu-$v.json" > "$R/gemv-swiglu-$v.txt" 2>&1
done
grep -hE "^gemv " "$R"/gemv-*.txt
dr_e2e b16-1 --model llama2-7b --weights q4_0 --batch 16
dr_e2e b1 --model llama2-7b --weights q4_0 --batch 1
dr_e2e b16-2 --model llama2-7b --weights q4_0 --batch 16
dr_e2e 8b-b16 --model llama3-8b --weights q4_0 --batch 16
dr_e2e q8-b16 --model llama2-7b --weights q8_0 --batch 16
dr_finish
