#!/usr/bin/env bash
# session 7 call 7 (H100): the in-graph cost of the FFN RMSNorm kernel alone (a new ablation
# part, ffn_norm), to size folding that norm into the O GEMV's last block (the next step this
# would motivate). Engine session test (AblateSwitch names ffn_norm); e2e with / without it,
# alternating.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
cd /tmp/snap; R=/tmp/res7; rm -rf $R; mkdir -p $R; t0=$SECONDS
nvidia-smi --query-gpu=name --format=csv,noheader
cmake -S . -B /tmp/klab-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKLAB_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a > /tmp/cfg.log 2>&1
cmake --build /tmp/klab-build -j16 --target klab_cli test_cuda_model_cuda_session_test > /tmp/build.log 2>&1; echo "build rc $? in $((SECONDS-t0))s"
grep -E "error" /tmp/build.log | head -10
B=/tmp/klab-build; K=$B/bin/klab
timeout 200 $B/tests/test_cuda_model_cuda_session_test > $R/session-test.log 2>&1; echo "session test rc $? $(grep -E '^\[  (PASSED|FAILED) ' $R/session-test.log | tr '\n' ' ')"
e2e() {  # name ablate args...
  local n=$1 a=$2; shift 2
  KLAB_CUDA_ABLATE=$a timeout 90 $K bench e2e --prompt 0 "$@" --json $R/e2e-$n-${a:-none}.json > $R/e2e-$n-${a:-none}.txt 2>&1
  echo "$n ablate=${a:-none}: $(grep -hoE '[0-9.]+ tokens/s.*ms\)' $R/e2e-$n-${a:-none}.txt | head -3 | tr '\n' ' ') ($((SECONDS-t0))s)"
}
Q4="--model llama2-7b --weights q4_0 --ctx 512"
for r in a b; do e2e 7b-q4-$r "" $Q4 --batch 1,16; e2e 7b-q4-$r ffn_norm $Q4 --batch 1,16; done
e2e 8b-q4 "" --model llama3-8b --weights q4_0 --batch 1 --ctx 512; e2e 8b-q4 ffn_norm --model llama3-8b --weights q4_0 --batch 1 --ctx 512
tar -czf $OUT/res7.tgz -C $R .
echo "total $((SECONDS-t0))s"
