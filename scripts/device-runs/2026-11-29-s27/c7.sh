#!/usr/bin/env bash
# Session 27 c7 (H200, warm after c6, its binary): c6 measured 7B F16 B=1 faster with
# KLAB_CUDA_DENSE_NORM=kernel (+3.2%), KLAB_CUDA_DENSE_QKV=chain (+3.4%) and
# KLAB_CUDA_DENSE_TRIGGER=late (+1.4%), one run each against 257.2 / 255.9. This call alternates
# the default with the first two together and all three, two rounds. Prediction: together
# +3..+6% (264-272 tok/s).
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c7
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
K=/tmp/c6b/klab
f16() {  # NAME: 7B F16 B=1 ctx 512; switches go in front as VAR=VALUE (dr_e2e sees them)
  dr_e2e "$1" --model llama2-7b --weights f16 --batch 1
}
for i in 1 2; do
  f16 "f16-default-$i"
  KLAB_CUDA_DENSE_NORM=kernel KLAB_CUDA_DENSE_QKV=chain f16 "f16-norm-kernel-qkv-chain-$i"
  KLAB_CUDA_DENSE_NORM=kernel KLAB_CUDA_DENSE_QKV=chain KLAB_CUDA_DENSE_TRIGGER=late \
    f16 "f16-all-three-$i"
done
dr_finish
