#!/usr/bin/env bash
# Session 31 c11 (H200): issue 4's tables on commit 104455b (the 8-warp CTA in clusters of 8;
# auto takes _spec for one long contiguous sequence): the decode-attention tests, dr_attn_tables
# (decode-attn B=1/8/16/32 x S=4096/16384 x contiguous/paged16, prefill-attn S=8192 causal/full,
# PyTorch's SDPA on the same shapes), and `auto` at B=1.
# Predictions, written before the run: every test passes; `_spec` B=1 S=16384 22.3-22.9 µs
# (70-72% of copy; the 80% line stays missed), S=4096 9.1-9.4; paged16 B=1 S=4096 within 10% of
# contiguous; B=8-32 and prefill as c13 of session 30 (88 / 100 / 104%, 470 / 486 TFLOP/s);
# auto at B=1 S=16384 contiguous equal to `_spec`.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c11 commit-new
dr_unxz klab-new.xz /tmp/klab-new
dr_unxz t_decode-new.xz "$B/tests/test_cuda_attn_decode_decode_test"
nvidia-smi --query-gpu=name,uuid --format=csv,noheader | tee "$R/gpu.txt"
K=/tmp/klab-new
dr_attn_tables
dr_pack
timeout 60 "$K" bench --variant auto decode-attn --batch 1 --len 4096,16384 \
  --layout contiguous,paged --json "$R/attn-auto.json" > "$R/attn-auto.txt" 2>&1
grep -h "^bench: .*\[" "$R/attn-auto.txt" | cut -c1-110
dr_pack
dr_test decode test_cuda_attn_decode_decode_test 300 --gtest_brief=1
dr_finish
