#!/usr/bin/env bash
# Session 26 c2 (H200): c1's biased codes measured slower (QKV 11.9 -> 13.3 µs, O 5.8 -> 7.1,
# SwiGLU 17.0 -> 24.9): its per-block bias pass (x rewritten / 16, -B staged a sub-chunk)
# cost ~1.3 µs a launch, and its extra 2 KB of shared memory cut Llama-2-7B's gate/up from 6
# blocks an SM to 5 (not one wave). This form has no pass and no extra shared memory: odd
# nibbles are OR'ed into 64.0 (64 + q), and the bias is subtracted by the tensor cores, one more
# mma a k-step with a constant A (-(1024 + z) | -(64 + z)) shared by the block's tiles.
# Static SASS a chunk (f16): 4-bit one tile 86.5 -> 70, SwiGLU 145 -> 118, 8-bit one tile ~47 ->
# 42, 8-bit SwiGLU 83 -> 68 (HMMA 4 -> 8 a chunk-tile). A = that, one-tile rings two chunks a
# stage (committed); B = the same with one chunk a stage (the s25 ring) — built on the dev machine
# and carried; old = 72c0a74 built here.
# Prediction (µs, old -> A): 4-bit 12288x4096 11.9 -> 10.0-10.8, 4096x4096 5.8 -> 5.2-5.6,
# 4096x11008 11.2 -> 9.6-10.4, SwiGLU 17.0 -> 14.5-15.5; 8-bit 12288x4096 15.6 -> 14.5-15.2.
# B within ±3% of A. e2e B=1 ctx 512: 7B Q4_0 ~560 -> 600-640, Q8_0 ~423 -> 430-445, 8B Q4_0
# ~510 -> 545-580. Precision test errors <= 1e-4, same order as c1's (~2e-6).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c2
dr_build_old klab_cli
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
mkdir -p "$B/bin" "$B/tests"
for v in A B; do xz -dc "$DR_ROOT/.carry/klab$v.xz" > "$B/bin/klab$v"; done
xz -dc "$DR_ROOT/.carry/gemvq.xz" > "$B/tests/test_cuda_gemv_gemv_q_test"
# fused decode tests: c3 (its build); the carry limit held two klab binaries and one test
chmod +x "$B"/bin/* "$B"/tests/*
K=$B/bin/klabA
dr_test precision test_cuda_gemv_gemv_q_test 120 --gtest_filter='*StagedBiased*'
grep -E "^q" "$R/precision.log" | grep -v _pdl | head -40
dr_test_sharded gemv test_cuda_gemv_gemv_q_test 12 150

dr_pack
wait
DR_AB_SIDES="old:$OLD A:$B/bin/klabA B:$B/bin/klabB"
dr_ab q4 --variant mma_staged_pdl --seconds 0.15 gemv --M 1 --bits 4 --N 12288,4096,4096 \
  --K 4096,4096,11008
dr_ab swiglu --variant mma_staged_pdl --seconds 0.15 gemv --M 1 --bits 4,8 --epilogue swiglu \
  --N 11008 --K 4096
dr_ab q8 --variant mma_staged_pdl --seconds 0.15 gemv --M 1 --bits 8 --N 12288,4096 \
  --K 4096,11008
dr_pack
for i in 1 2; do
  DR_KLAB=$OLD dr_e2e "7b-q4_0-old-$i" --model llama2-7b --weights q4_0 --batch 1
  DR_KLAB=$B/bin/klabA dr_e2e "7b-q4_0-A-$i" --model llama2-7b --weights q4_0 --batch 1
  DR_KLAB=$B/bin/klabB dr_e2e "7b-q4_0-B-$i" --model llama2-7b --weights q4_0 --batch 1
done
for side in old A B; do
  bin=$B/bin/klab$side
  [ "$side" = old ] && bin=$OLD
  DR_KLAB=$bin dr_e2e "7b-q8_0-$side" --model llama2-7b --weights q8_0 --batch 1
  DR_KLAB=$bin dr_e2e "8b-q4_0-$side" --model llama3-8b --weights q4_0 --batch 1
done
dr_finish
