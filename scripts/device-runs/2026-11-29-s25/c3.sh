#!/usr/bin/env bash
# Session 25 c3 (H200): the code to keep, measured for the issues' tables, and one more probe.
# 1. stream_floor with an instruction sweep: ring_x plus 16..128 opaque IMADs a 512-byte chunk
#    (loop 39..151 SASS a chunk; the 4-bit GEMV's loop is ~89) at the QKV size. c2 showed the
#    launch structure and mma_staged's staging/epilogue cost ~0.3 µs (ring_x 7.65 vs ring 7.32),
#    so the GEMV's ~4.4 µs more (12.09) is its loop. Prediction: if issue count were the bound,
#    ops 64 (~87 a chunk) would take ~11-12 µs; I expect ~8.5-9.5 µs, i.e. the count alone
#    explains under half of it and the loop's dependent latencies (LDS -> decode -> 2 chained
#    HMMA -> FFMA) the rest.
# 2. Tests on the code to keep (c2's paged speculation; auto now picks `_spec` for one paged
#    sequence without history_ready): decode (805), fused decode, CUDA session, batch decode
#    (the engine's `_s2` runs the reordered prologue too).
# 3. The issue tables (as s24 c7): decode-attn B 1/8/16/32 x 4096/16384 contiguous and paged16,
#    prefill-attn 8192, PyTorch SDPA, e2e Llama-2-7B Q4_0/Q8_0/F16 and Llama-3-8B Q4_0.
#    Expectation: paged16 B=1 S=4096 ~10.2-10.3 µs (c2), the rest as s24 c7 within noise
#    (e2e uses `_s2` with history_ready: unchanged within ±1%).
# (Rewritten after it ran onto lib.sh's dr_build_old / dr_ab / dr_issue_tables helpers: the
# same commands.)
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c3
"$DR_ROOT/.carry/stream_floor" > "$R/stream-floor.txt" 2>&1
echo "stream_floor rc $? ($((SECONDS - t0))s)"
cat "$R/stream-floor.txt"
dr_pack
dr_build klab_cli test_cuda_attn_decode_decode_test test_cuda_fused_decode_fused_decode_test \
  test_cuda_model_cuda_session_test test_cuda_model_batch_decode_test
dr_test_sharded attn test_cuda_attn_decode_decode_test 8 200
dr_test_sharded fused test_cuda_fused_decode_fused_decode_test 4 150
dr_test session test_cuda_model_cuda_session_test 200
dr_test batch test_cuda_model_batch_decode_test 200
dr_pack
dr_issue_tables
dr_finish
