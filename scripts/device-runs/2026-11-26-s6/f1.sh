#!/usr/bin/env bash
# session 6 final call 1 (H100): full build of the snapshot (every target); the tests of what
# this session changed (gemv_q: mma_wide rows + PDL; qkv: token_split with PDL; the engine's
# session / batch tests without the real model; fused decode); compute-sanitizer memcheck and
# racecheck on the wide PDL chain and memcheck on the QKV PDL cases; e2e Llama-2-7B Q4_0 B=1,16.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
cp .carry/model.a /tmp/m.a 2>/dev/null
# The snapshot, or (when the model half leaves no room for it in the carry) the working tree,
# which is the commit in .carry/commit when the tree is clean.
rm -rf /tmp/snap && mkdir -p /tmp/snap
if [ -f .carry/snap.tgz ]; then tar -xzf .carry/snap.tgz -C /tmp/snap; else tar -c --exclude=./.carry . | tar -x -C /tmp/snap; fi
cd /tmp/snap; R=/tmp/resf1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 -- -k 0 > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error|warning" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
run() { timeout 200 "$@" > $R/$(basename $1).log 2>&1; echo "$(basename $1) rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$(basename $1).log | tr '\n' ' ')"; }
export -f run; export R
printf '%s\n' "$B/tests/test_cuda_gemv_gemv_q_test" "$B/tests/test_cuda_qkv_qkv_test" \
  "$B/tests/test_cuda_fused_decode_fused_decode_test" "$B/tests/test_cuda_model_batch_decode_test" \
  "$B/tests/test_cuda_model_cuda_session_test --gtest_filter=-*RealModel*" | xargs -P 5 -L 1 bash -c 'run $0 $@'
timeout 120 compute-sanitizer --tool memcheck --error-exitcode 99 $B/tests/test_cuda_gemv_gemv_q_test --gtest_filter='*WidePdlChain*' > $R/san-memcheck-wide.log 2>&1; echo "memcheck wide rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck-wide.log)"
timeout 120 compute-sanitizer --tool racecheck --error-exitcode 99 $B/tests/test_cuda_gemv_gemv_q_test --gtest_filter='*WidePdlChain*' > $R/san-racecheck-wide.log 2>&1; echo "racecheck wide rc $? $(grep 'RACECHECK SUMMARY' $R/san-racecheck-wide.log)"
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 99 $B/tests/test_cuda_qkv_qkv_test --gtest_filter='*RopeKvWrite*' > $R/san-memcheck-qkv.log 2>&1; echo "memcheck qkv rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck-qkv.log)"
timeout 100 $K bench e2e --model llama2-7b --weights q4_0 --batch 1,16 --ctx 512 --prompt 0 --json $R/e2e.json > $R/e2e.txt 2>&1; echo "e2e rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e.txt | cut -c1-140
tar -czf $OUT/resf1.tgz -C $R .
echo "total $((SECONDS-t0))s"
