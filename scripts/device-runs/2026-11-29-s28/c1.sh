#!/usr/bin/env bash
# Session 28 c1 (prepared in session 27 as next/f16-defaults.sh).
# Session 27 made the RMSNorm kernels the F16 decode default (c6: 7B F16 B=1 264.8 tok/s against
# 257.2 / 255.9 with the fold; `KLAB_CUDA_DENSE_NORM=fold` for the fold) and measured
# `KLAB_CUDA_DENSE_QKV=chain` +3.4% alone (265.2, one run) but +2.4% with the norm kernels
# (262.5 / 262.7, c7), against the fused QKV block's +1.3% (B=1) and +2.9% (B=4) on the H100
# (s10 c3). This call: the full build, the engine session tests (both norm modes), then
# alternating two rounds at 7B F16 ctx 512, B=1 and B=4: default / KLAB_CUDA_DENSE_QKV=chain /
# KLAB_CUDA_DENSE_NORM=fold, the new default's F16 timeline (where the missed 5 points go now), a
# Q8_0 sweep of the staged GEMV's switches (never re-run at 8 bits on the H200; s5 on the H100 had
# the 8-bit QKV 5% faster at 4 warps), and the Llama-2-7B and Llama-3-8B F16 matrices.
# Prediction: B=1 default 262-267 tok/s, chain within ±1% of it, fold 255-258; B=4 default =
# fold (one-row steps only) ~627, chain 600-620 (H100: -2.9%); 8B F16 B=1 +2..+4% over s21's
# 226.9; Q8_0 switches within ±1% or slower (the default's 424-430).
# Expected length ~500-560 s (build ~120, session test ~40, 17 e2e runs ~190, timeline, matrices
# at ctx 512 ~100): run it alone in its call.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
dr_build klab_cli test_cuda_model_cuda_session_test
dr_test session test_cuda_model_cuda_session_test 200 --gtest_filter='-*RealModel*'
dr_pack
e2e7b() {  # NAME WEIGHTS BATCH: ctx 512; switches go in front as VAR=VALUE (dr_e2e sees them)
  dr_e2e "$1" --model llama2-7b --weights "$2" --batch "$3"
}
for i in 1 2; do
  for b in 1 4; do
    e2e7b "f16-b$b-default-$i" f16 "$b"
    KLAB_CUDA_DENSE_QKV=chain e2e7b "f16-b$b-qkv-chain-$i" f16 "$b"
    KLAB_CUDA_DENSE_NORM=fold e2e7b "f16-b$b-norm-fold-$i" f16 "$b"
  done
done
dr_pack
dr_timeline f16-default f16 llama2-7b
e2e7b q8-default-1 q8_0 1
KLAB_CUDA_STAGED_WARPS=4 e2e7b q8-staged-warps4 q8_0 1
KLAB_CUDA_STAGED_ONE_WAVE=0 e2e7b q8-one-wave-off q8_0 1
KLAB_CUDA_DECODE_EARLY_KV=0 e2e7b q8-early-kv-off q8_0 1
e2e7b q8-default-2 q8_0 1
dr_pack
timeout 150 "$K" bench e2e --model llama2-7b,llama3-8b --weights f16 --batch 1,4,16 --ctx 512 \
  --prompt 512 --json "$R/e2e-f16.json" > "$R/e2e-f16.txt" 2>&1
echo "e2e f16 rc $? ($((SECONDS - t0))s)"
grep -hE "^bench: e2e.*tokens/s" "$R/e2e-f16.txt" | cut -c1-110
dr_finish
