#!/usr/bin/env bash
# session 9 call 1 (H100): mma_wide_staged (x staged once per persistent block, codes + scale
# lines through a per-warp cp.async ring) against mma_wide at 16 tokens; its tests; and the
# session-8 review refactor (env_switch.hpp) never run on a GPU: gemv_q, gemv_dense, the decode
# attention auto tests. Predictions (M = 16, 4-bit): 12288 x 4096 17.8 -> 12-14 us, 4096 x 4096
# residual 8.8 -> 5-6, 11008 x 4096 SwiGLU 38.9 -> 21-25.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/resc1; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_gemv_gemv_q_test test_cuda_gemv_gemv_dense_test test_cuda_attn_decode_decode_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
run() { timeout 300 "$@" > $R/$(basename $1).log 2>&1; echo "$(basename $1) rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/$(basename $1).log | tr '\n' ' ')"; }
export -f run; export R
printf '%s\n' "$B/tests/test_cuda_gemv_gemv_q_test" "$B/tests/test_cuda_gemv_gemv_dense_test" "$B/tests/test_cuda_attn_decode_decode_test --gtest_filter=*Auto*:*HistoryReady*" | xargs -P 3 -L 1 bash -c 'run $0 $@'
echo "tests done at $((SECONDS-t0))s"
grep -E "FAILED|Failure|error" $R/test_cuda_gemv_gemv_q_test.log | head -20
g() {  # variant name args...
  local v=$1 n=$2; shift 2
  timeout 60 $K bench --variant $v gemv --validate --M 16 "$@" --json $R/gemv-$v-$n.json > $R/gemv-$v-$n.txt 2>&1
  echo "$v $n rc $?"; grep -E "^\|" $R/gemv-$v-$n.txt | grep -vE "^\|[ -]*\|" | cut -c1-160 | tail -n +2
}
for v in mma_wide_pdl mma_wide_staged_pdl; do
  g $v plain --bits 4,8 --N 12288,4096 --K 4096,4096
  g $v swiglu --bits 4,8 --N 11008 --K 4096 --epilogue swiglu
  g $v residual --bits 4 --N 4096 --K 4096 --epilogue residual
done
timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 --json $R/e2e-q4-b16.json > $R/e2e-q4-b16.txt 2>&1
KLAB_CUDA_WIDE_STAGED=0 timeout 90 $K bench e2e --prompt 0 --ctx 512 --model llama2-7b --weights q4_0 --batch 16 --json $R/e2e-q4-b16-off.json > $R/e2e-q4-b16-off.txt 2>&1
echo "e2e on/off: $(grep -hoE '[0-9.,]+ tokens/s' $R/e2e-q4-b16.txt $R/e2e-q4-b16-off.txt | tr '\n' ' ') ($((SECONDS-t0))s)"
tar -czf $OUT/resc1.tgz -C $R .
echo "total $((SECONDS-t0))s"
