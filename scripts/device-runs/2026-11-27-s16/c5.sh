#!/usr/bin/env bash
# session 16, call c5 (H100, the machine c4 left warm): the real model in place (/tmp/m.a from c4 +
# .carry/model.b): every GPU test (ctest -L gpu), `klab generate` on the default model and under
# compute-sanitizer memcheck.
set -uo pipefail
test -f /tmp/m.a && test -d /tmp/klab-build || { echo COLD; exit 3; }
cat /tmp/m.a .carry/model.b > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models
ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
. scripts/device-runs/lib.sh
dr_start c5
dr_build
(cd "$B" && timeout 460 ctest -L gpu -j10 --timeout 300 --output-on-failure > "$R/ctest-gpu.log" 2>&1)
echo "ctest rc $? at $((SECONDS - t0))s"
grep -E "tests passed|tests failed|\*\*\*Failed|\*\*\*Timeout|Total Test" "$R/ctest-gpu.log" | head -20
timeout 30 "$K" generate -m /tmp/m.gguf -p "Once upon a time" -n 256 --temp 0 --device cuda 2>&1 | tail -1 | cut -c1-160
timeout 60 compute-sanitizer --tool memcheck --error-exitcode 99 "$K" generate -m /tmp/m.gguf \
  -p "The capital of France is" -n 16 --temp 0 --device cuda > "$R/generate-memcheck.log" 2>&1
echo "generate memcheck rc $? $(grep 'ERROR SUMMARY' "$R/generate-memcheck.log")"
dr_finish
