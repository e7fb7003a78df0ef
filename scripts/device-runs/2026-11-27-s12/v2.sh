#!/usr/bin/env bash
# session 12 final call 2 (H100, same warm machine as v1): every GPU test (ctest -L gpu) with
# the real model in place; `klab generate` on the default model (graphs on / off) and under
# compute-sanitizer memcheck (16 tokens); the default model's e2e case.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
test -f /tmp/m.a && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cat /tmp/m.a .carry/model.b > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models && ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
cd /tmp/snap; B=/tmp/klab-build; K=$B/bin/klab; R=/tmp/resv2; rm -rf $R; mkdir -p $R; t0=$SECONDS
(cd $B && timeout 450 ctest -L gpu -j10 --timeout 300 --output-on-failure > $R/ctest-gpu.log 2>&1); echo "ctest rc $? at $((SECONDS-t0))s"
grep -E "tests passed|tests failed|\*\*\*Failed|\*\*\*Timeout|Total Test" $R/ctest-gpu.log | head -20
echo "skipped: $(grep -c '\*\*\*Skipped' $R/ctest-gpu.log)  passed lines: $(grep -c ' Passed ' $R/ctest-gpu.log)"
for g in 1 0; do KLAB_CUDA_GRAPHS=$g timeout 30 $K generate -m /tmp/m.gguf -p "Once upon a time" -n 256 --temp 0 --device cuda 2>&1 | tail -1 | cut -c1-160; done
timeout 90 compute-sanitizer --tool memcheck --error-exitcode 99 $K generate -m /tmp/m.gguf -p "The capital of France is" -n 16 --temp 0 --device cuda > $R/generate-memcheck.log 2>&1; echo "generate memcheck rc $? $(grep 'ERROR SUMMARY' $R/generate-memcheck.log)"
timeout 60 $K bench e2e --model default --json $R/e2e-default.json > $R/e2e-default.txt 2>&1; grep -hE "^bench: e2e .*tokens/s" $R/e2e-default.txt | cut -c1-130
tar -czf $OUT/resv2.tgz -C $R .
echo "total $((SECONDS-t0))s"
