#!/usr/bin/env bash
# Session 23 c5 (H200): Nsight Compute of the B=1 long-sequence decode attention (`_spec`, the
# variant `auto` ranks first at one long contiguous sequence on this card), against B=2 at the
# same length, to see what bounds the one-sequence stream that c2-c4 could not widen.
# Expectation (not a change, so no gain predicted): DRAM throughput ~65-70% of peak over the
# launch at B=1 (3.5 TB/s in the stream part), higher at B=2; most warp samples on the ring's
# cp.async wait (long_scoreboard / barrier on DEPBAR).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c5
dr_build klab_cli
dr_ncu b1-s16384 decode_cluster_kernel --variant split_kv_mma_cluster_spec decode-attn \
  --batch 1 --len 16384 --layout contiguous
dr_pack
dr_ncu b2-s16384 decode_cluster_kernel --variant split_kv_mma_cluster_spec decode-attn \
  --batch 2 --len 16384 --layout contiguous
dr_finish
