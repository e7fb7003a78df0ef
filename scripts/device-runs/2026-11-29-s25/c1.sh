#!/usr/bin/env bash
# Session 25 c1 (H200). Three parts, each with its prediction (written before the run):
# 1. scripts/probes/stream_floor.cu (prebuilt here, carried as .carry/stream_floor): how fast
#    one PDL launch can stream a 7B Q4_0 GEMV's bytes with no math, three load styles, and a
#    step of 32 layers as four launches a layer vs one. Prediction: at the QKV's 28.3 MB the
#    best style ~8-9 µs (3.2-3.5 TB/s; ~1.5-2 µs fixed a launch), `ring` (mma_staged's copies)
#    within 10% of `ldg`; four launches a layer 70-78% of the copy bound, one a layer 85-92%.
#    If four a layer reaches >= 80%, the 4-bit GEMVs lose to their own issue/math, not to the
#    launch structure.
# 2. decode_mma.cuh's ring copies through the cluster kernel's per-lane-base helper (now one
#    RingCopier both use): the cluster kernels' SASS is identical (cuobjdump), the decode_mma
#    kernels shrink 3288 -> 3048 SASS (bf16 d128), fused 4800 -> 4528. Prediction (old / new
#    built in this call, two rounds): split_kv_mma_pdl / _onepass / _fused B=1 S=4096 -2..-5%,
#    S=16384 0..-3%, B=8 S=4096 within ±2%. Tests: decode 804 / 804.
# 3. ncu of `_w8` B=1 S=4096, contiguous vs paged16 (the +12% between them, 9.32 vs 10.45 µs in
#    s24 c7; no speculation in either). Expectation: the paged CTA's extra time sits in its
#    prologue (the table window's stores and barrier before the first copy), not in the loop.
# (Rewritten after it ran onto lib.sh's dr_build_old / dr_ab / dr_issue_tables helpers: the
# same commands.)
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c1
"$DR_ROOT/.carry/stream_floor" > "$R/stream-floor.txt" 2>&1
echo "stream_floor rc $? ($((SECONDS - t0))s)"
cat "$R/stream-floor.txt"
dr_pack
dr_build klab_cli test_cuda_attn_decode_decode_test
dr_build_old klab_cli
dr_test_sharded attn test_cuda_attn_decode_decode_test 8 200
wait
dr_pack
for v in split_kv_mma_pdl split_kv_mma_onepass split_kv_mma_fused; do
  dr_ab "$v" --variant "$v" --seconds 0.15 decode-attn \
  --batch 1 --len 4096,16384 --layout contiguous,paged
  dr_ab "$v-b8" --variant "$v" --seconds 0.15 decode-attn \
  --batch 8 --len 4096 --layout contiguous
done
dr_ab cluster-spec --variant split_kv_mma_cluster_spec --seconds 0.15 decode-attn \
  --batch 1 --len 4096 --layout contiguous,paged
dr_pack
dr_ncu w8-contig decode_cluster_kernel --variant split_kv_mma_cluster_w8 decode-attn --batch 1 \
  --len 4096 --layout contiguous
dr_ncu w8-paged decode_cluster_kernel --variant split_kv_mma_cluster_w8 decode-attn --batch 1 \
  --len 4096 --layout paged
dr_finish
