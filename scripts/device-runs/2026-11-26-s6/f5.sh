#!/usr/bin/env bash
# session 6 final call 5 (same warm machine as f4): the real-model engine tests (CUDA greedy ==
# CPU greedy, staged == chain) on the final engine (history_ready on), memcheck of a 16-token
# generation, `klab generate` 256 tokens with and without graphs.
set -uo pipefail
test -f /tmp/m.a && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cat /tmp/m.a .carry/model.b > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models && ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
B=/tmp/klab-build; K=$B/bin/klab; R=/tmp/resf5; rm -rf $R; mkdir -p $R; t0=$SECONDS
timeout 200 $B/tests/test_cuda_model_cuda_session_test > $R/cuda_session_test.log 2>&1; echo "session test rc $? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' $R/cuda_session_test.log | tr '\n' ' ')"
grep -E "rel|worst" $R/cuda_session_test.log | head -8
timeout 90 compute-sanitizer --tool memcheck --error-exitcode 99 $K generate -m /tmp/m.gguf -p "The capital of France is" -n 16 --temp 0 --device cuda > $R/generate-memcheck.log 2>&1; echo "generate memcheck rc $? $(grep 'ERROR SUMMARY' $R/generate-memcheck.log)"
for g in 1 0; do KLAB_CUDA_GRAPHS=$g $K generate -m /tmp/m.gguf -p "Once upon a time" -n 256 --temp 0 --device cuda 2>&1 | tail -1 | cut -c1-160; done
tar -czf $OUT/resf5.tgz -C $R .
echo "total $((SECONDS-t0))s"
