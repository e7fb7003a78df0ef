#!/usr/bin/env bash
# session 7 call 5 (H100): the test-only refactor: gemv_q_test's DeviceCase (one CPU reference
# per case, shared by mma_wide's four row-tile counts) and the PDL chain tests' shared
# quant_gemv_args. Runs gemv_q (v1: 15/15 in 130 s, every-count case 23.3 s), gemv_dp4a and
# glue_pdl.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res5; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target test_cuda_gemv_gemv_q_test test_cuda_gemv_gemv_dp4a_test test_cuda_model_glue_pdl_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build
run() { timeout 250 "$@" > $R/$(basename $1).log 2>&1; echo "$(basename $1) rc $? $(grep -E '^\[  (PASSED|FAILED) |ms total\)$' $R/$(basename $1).log | tail -2 | tr '\n' ' ')"; }
export -f run; export R
printf '%s\n' "$B/tests/test_cuda_gemv_gemv_q_test" "$B/tests/test_cuda_gemv_gemv_dp4a_test" "$B/tests/test_cuda_model_glue_pdl_test" | xargs -P 3 -L 1 bash -c 'run $0 $@'
grep -hE "^\[  FAILED|WideDecode.*ms\)" $R/*.log | head
tar -czf $OUT/res5.tgz -C $R .
echo "total $((SECONDS-t0))s"
