#!/usr/bin/env bash
# session 6 final call 6 (H100): after the review refactor of the cluster kernel's row copy —
# build the decode test and run its cluster / PDL / graph / history cases and all of it.
set -uo pipefail
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resf6; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target test_cuda_attn_decode_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
timeout 200 /tmp/klab-build/tests/test_cuda_attn_decode_decode_test > $R/decode_test.log 2>&1; echo "decode test rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/decode_test.log | tr '\n' ' ')"
grep -E "^\[  FAILED" $R/decode_test.log | head
tar -czf $OUT/resf6.tgz -C $R .
echo "total $((SECONDS-t0))s"
