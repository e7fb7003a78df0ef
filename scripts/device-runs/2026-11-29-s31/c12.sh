#!/usr/bin/env bash
# Session 31 c12 (H200): issue 4's tables on commit a1cfb38 (the 8-warp CTA in clusters of 8 from 8192 planned keys;
# auto takes _spec for one long contiguous sequence): the decode-attention tests, dr_attn_tables
# (decode-attn B=1/8/16/32 x S=4096/16384 x contiguous/paged16, prefill-attn S=8192 causal/full,
# PyTorch's SDPA on the same shapes), and `_spec` at B=1 S=4096 / 8192.
# c11 (clusters of 8 at every length) had paged16 B=1 S=4096 at +11.8% of contiguous (10.11 /
# 9.04 µs); S=4096 now keeps fit_cluster's 9. Predictions, written before the run: every test
# passes; `_spec` B=1 S=16384 22.3-22.9 µs (70-72% of copy), S=4096 9.0-9.3 and paged16 there
# +8-10%; S=8192 ~13.4 (clusters of 8); B=8-32 and prefill as c11.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start_carried c12 commit-new
dr_unxz klab-new.xz /tmp/klab-new
dr_unxz t_decode-new.xz "$B/tests/test_cuda_attn_decode_decode_test"
nvidia-smi --query-gpu=name,uuid --format=csv,noheader | tee "$R/gpu.txt"
K=/tmp/klab-new
dr_attn_tables
dr_pack
timeout 60 "$K" bench --variant split_kv_mma_cluster_spec decode-attn --batch 1 \
  --len 4096,8192 --layout contiguous,paged --json "$R/attn-spec-8192.json" \
  > "$R/attn-spec-8192.txt" 2>&1
grep -h "^bench: .*\[" "$R/attn-spec-8192.txt" | cut -c1-110
dr_pack
dr_test decode test_cuda_attn_decode_decode_test 300 --gtest_brief=1
dr_finish
