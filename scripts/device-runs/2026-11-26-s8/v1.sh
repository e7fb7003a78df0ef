#!/usr/bin/env bash
# session 8 final call 1 (H100): full build of the final tree (the commit in .carry/commit; the
# model's first half carried for v2, so the log folders were moved out of the tree for v1 and
# v2); the end-to-end matrix (Llama-2-7B Q4_0 / Q8_0 / F16 x B 1, 4, 16 x ctx 512, 4096 +
# prefill 512; Llama-3-8B Q4_0 B 1, 16 + prefill); memcheck of the new launch shapes (spread,
# the staged QKV on given norm rows).
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
cp .carry/model.a /tmp/m.a
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -c --exclude=./.carry . | tar -x -C /tmp/snap
cd /tmp/snap; R=/tmp/resv1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 -- -k 0 > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error|warning" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 200 $K bench e2e --model llama2-7b --weights q4_0,q8_0,f16 --json $R/e2e-llama2-7b.json > $R/e2e-llama2-7b.txt 2>&1; echo "e2e 7b rc $? at $((SECONDS-t0))s"
timeout 100 $K bench e2e --model llama3-8b --weights q4_0 --batch 1,16 --ctx 512 --json $R/e2e-llama3-8b.json > $R/e2e-llama3-8b.txt 2>&1; echo "e2e 8b rc $? at $((SECONDS-t0))s"
grep -hE "^bench: e2e .*tokens/s" $R/e2e-*.txt | cut -c1-130
timeout 100 compute-sanitizer --tool memcheck --error-exitcode 99 $B/tests/test_cuda_gemv_gemv_q_test --gtest_filter='*Spread*' > $R/san-memcheck-spread.log 2>&1; echo "memcheck spread rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck-spread.log)"
timeout 100 compute-sanitizer --tool memcheck --error-exitcode 99 $B/tests/test_cuda_fused_decode_fused_decode_test --gtest_filter='*StagedNormQkvGqa*' > $R/san-memcheck-normed.log 2>&1; echo "memcheck normed qkv rc $? $(grep 'ERROR SUMMARY' $R/san-memcheck-normed.log)"
tar -czf $OUT/resv1.tgz -C $R .
echo "total $((SECONDS-t0))s"
