#!/usr/bin/env bash
# Session 26 c3 (H200): the biased-codes experiment is out (c1, c2); what stays is the two-chunk
# ring stage of mma_staged's symmetric one-tile kernels (one wait, barrier and commit per two
# chunks; 4-bit f16 81 SASS a chunk from 86.5). c1's loop had 21 fewer SASS a chunk than the
# old one and was no faster once its ~1.3 µs prologue is taken off, so the loop is not bound by
# its issue as s25 read its probe: this call also takes ncu's stall and tensor-pipe counters of
# the QKV and gate/up launches to say what binds it.
# Binaries built on the dev machine and carried: N = this commit, O = 72c0a74. Session and batch
# decode tests and the fused decode tests built here in the background (carry limit).
# Prediction (µs, O -> N): 4-bit 12288x4096 12.0 -> 11.6-12.0, 4096x4096 5.8 -> 5.6-5.8,
# 4096x11008 11.1 -> 10.7-11.2; 8-bit 12288x4096 15.5 -> 15.0-15.5; SwiGLU unchanged (its
# kernel is the same code). e2e 7B Q4_0 B=1 ctx 512 ~564 -> 564-575.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
(dr_build test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test \
  test_cuda_fused_decode_fused_decode_test) &
build_pid=$!
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
mkdir -p /tmp/c3bin /tmp/c3tests
for v in O N; do xz -dc "$DR_ROOT/.carry/klab$v.xz" > "/tmp/c3bin/klab$v"; done
xz -dc "$DR_ROOT/.carry/gemvq.xz" > /tmp/c3tests/test_cuda_gemv_gemv_q_test
chmod +x /tmp/c3bin/* /tmp/c3tests/*
OLD=/tmp/c3bin/klabO
K=/tmp/c3bin/klabN
B_BUILT=$B
B=/tmp/c3tests  # dr_test* read $B/tests
mkdir -p "$B/tests" && mv /tmp/c3tests/test_* "$B/tests/"
dr_test_sharded gemv test_cuda_gemv_gemv_q_test 12 150
wait $build_pid
B=$B_BUILT
dr_test_sharded fused test_cuda_fused_decode_fused_decode_test 4 150
dr_test session test_cuda_model_cuda_session_test 150
dr_test batch test_cuda_model_batch_decode_test 150
dr_pack
dr_ab q4 --variant mma_staged_pdl --seconds 0.15 gemv --M 1 --bits 4 --N 12288,4096,4096 \
  --K 4096,4096,11008
dr_ab q8 --variant mma_staged_pdl --seconds 0.15 gemv --M 1 --bits 8 --N 12288,4096 \
  --K 4096,11008
dr_pack
for i in 1 2; do dr_e2e_ab 7b-q4_0 "-$i" --model llama2-7b --weights q4_0 --batch 1; done
dr_e2e_ab 8b-q4_0 "" --model llama3-8b --weights q4_0 --batch 1
dr_e2e_ab 7b-q8_0 "" --model llama2-7b --weights q8_0 --batch 1
dr_pack
dr_ncu qkv gemv_mma_staged --variant mma_staged_pdl gemv --M 1 --bits 4 --N 12288 --K 4096
dr_pack
timeout 120 ncu --clock-control none -k regex:gemv_mma_staged --launch-skip 20 --launch-count 1 \
  --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_tensor_op_hmma.avg.pct_of_peak_sustained_active,sm__issue_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed,smsp__warps_active.avg.per_cycle_active,gpu__time_duration.sum \
  "$K" bench --no-validate --seconds 0.05 --variant mma_staged_pdl gemv --M 1 --bits 4 \
  --N 12288,4096 --K 4096,11008 > "$R/ncu-pipes.txt" 2>&1
echo "ncu pipes rc $?"
grep -E "sm__|dram__|gpu__time|smsp__" "$R/ncu-pipes.txt" | head -12
dr_finish
