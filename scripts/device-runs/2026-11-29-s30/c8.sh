#!/usr/bin/env bash
# Session 30 c8 (H200): the push merge in the cluster decode kernel (commit 4c71954, klab and the
# decode attention tests built on the dev machine and carried) against the parent's kernel
# (.carry/klab.xz, commit 6df9dee: the decode kernels unchanged from it to 4c71954's parent).
# First the decode attention tests (8 shards), then old / new alternating, two rounds: `_spec`
# and `_s2` at B=1/8 S=4096/16384 contiguous and paged16, and Llama-2-7B Q4_0 e2e B=1 ctx 512.
# Prediction, written before the run (the probe's -0.9 µs a launch, c7): `_spec` B=1 S=16384
# 23.8 -> 22.8-23.1 µs, S=4096 9.2 -> 8.3-8.7, paged16 alike; B=8 -0.3..-0.9 µs; 7B Q4_0 B=1
# +0.5..+1.5% tok/s (32 layers x ~0.7 µs of a ~1,756 µs step).
set -uo pipefail
. scripts/device-runs/lib.sh
DR_NAME=c8
R=/tmp/c8 && rm -rf "$R" && mkdir -p "$R"
t0=$SECONDS
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
export KLAB_GIT_COMMIT
KLAB_GIT_COMMIT=$(cat .carry/commit-new)
nvidia-smi --query-gpu=name --format=csv,noheader
xz -dc .carry/klab.xz > /tmp/klab-old && chmod +x /tmp/klab-old
xz -dc .carry/klab-new.xz > /tmp/klab-new && chmod +x /tmp/klab-new
B=/tmp/c8-build && mkdir -p "$B/tests"
xz -dc .carry/t_decode-new.xz > "$B/tests/test_cuda_attn_decode_decode_test"
chmod +x "$B/tests/test_cuda_attn_decode_decode_test"
dr_test_sharded decode test_cuda_attn_decode_decode_test 8 200
dr_pack
DR_AB_SIDES="old:/tmp/klab-old new:/tmp/klab-new"
dr_ab spec --no-validate --variant split_kv_mma_cluster_spec decode-attn --batch 1,8 \
  --len 4096,16384 --layout contiguous,paged
dr_ab s2 --no-validate --variant split_kv_mma_cluster_s2 decode-attn --batch 1 --len 4096,16384 \
  --layout contiguous,paged
dr_pack
for i in 1 2; do
  for side in old new; do
    DR_KLAB=/tmp/klab-$side dr_e2e "7b-q4_0-$side-$i" --model llama2-7b --weights q4_0 --batch 1
  done
done
dr_finish
