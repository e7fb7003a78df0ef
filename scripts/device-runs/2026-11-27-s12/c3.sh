#!/usr/bin/env bash
# session 12 call 3 (H100): compute-sanitizer racecheck and memcheck on the final decode-attention
# kernels (tile-in-page addressing, LaunchAttrs) and the fused decode blocks (LaunchAttrs in
# fused_mma). Expected: 0 hazards, 0 errors.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc3; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target test_cuda_attn_decode_decode_test test_cuda_fused_decode_fused_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
B=/tmp/klab-build/tests
s() {  # name tool timeout binary filter
  timeout $3 compute-sanitizer --tool $2 --error-exitcode 99 $B/$4 --gtest_filter="$5" > $R/$1.log 2>&1
  echo "$1 rc $? $(grep -E '^\[  PASSED|^\[  FAILED' $R/$1.log | tr '\n' ' ') $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $R/$1.log | tr '\n' ' ') ($((SECONDS-t0))s)"
}
s race-attn racecheck 90 test_cuda_attn_decode_decode_test '*cluster*_d128_g4_page16:*cluster*_d64_g8_contig:*fused*_d128_g4_page16:*DecodeLayoutTest*'
s race-fused racecheck 70 test_cuda_fused_decode_fused_decode_test '*'
s mem-attn memcheck 50 test_cuda_attn_decode_decode_test '*cluster*_page16:*cluster*_page15:*DecodeSplitTest*'
tar -czf $OUT/resc3.tgz -C $R .
echo "total $((SECONDS-t0))s"
