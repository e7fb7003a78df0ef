#!/usr/bin/env bash
# session 8 final call 6 (H100): after the review refactor (study-switch helper, timeline
# overlap in one walk): gemv_q (spread, one wave, SwiGLU), gemv_dense, the decode auto pick;
# a 7B Q4_0 B=1 timeline with the one-wave search on and off (the switch still read).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resv6; rm -rf $R; mkdir -p $R; t0=$SECONDS
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test test_cuda_gemv_gemv_dense_test test_cuda_attn_decode_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
B=/tmp/klab-build; K=$B/bin/klab
timeout 60 $B/tests/test_cuda_gemv_gemv_q_test --gtest_filter='*Spread*:*OneWave*' > $R/gemv_q.log 2>&1; echo "gemv_q rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/gemv_q.log | tr '\n' ' ')"
timeout 60 $B/tests/test_cuda_gemv_gemv_dense_test > $R/dense.log 2>&1; echo "dense rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/dense.log | tr '\n' ' ')"
timeout 60 $B/tests/test_cuda_attn_decode_decode_test --gtest_filter='*Auto*:*HistoryReady*' > $R/decode.log 2>&1; echo "decode rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/decode.log | tr '\n' ' ')"
for w in 1 0; do KLAB_CUDA_STAGED_ONE_WAVE=$w timeout 60 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 1 --timeline $R/tl-w$w > $R/tl-w$w.txt 2>&1; grep -hE "timeline .*a step|true, false" $R/tl-w$w.txt | cut -c1-150; grep -hoE '[0-9.]+ tokens/s' $R/tl-w$w.txt; done
tar -czf $OUT/resv6.tgz -C $R .
echo "total $((SECONDS-t0))s"
