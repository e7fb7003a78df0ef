#!/usr/bin/env bash
# session 6 final call 2 (same warm machine as f1): every GPU test (ctest -L gpu), the real
# model in place for the session tests.
set -uo pipefail
test -f /tmp/m.a && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cat /tmp/m.a .carry/model.b > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models && ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
B=/tmp/klab-build; R=/tmp/resf2; rm -rf $R; mkdir -p $R; t0=$SECONDS
(cd $B && timeout 540 ctest -L gpu -j10 --timeout 300 --output-on-failure > $R/ctest-gpu.log 2>&1); echo "ctest rc $? at $((SECONDS-t0))s"
grep -E "tests passed|tests failed|\*\*\*Failed|\*\*\*Timeout|Not Run" $R/ctest-gpu.log | head -20
echo "skipped: $(grep -c '\*\*\*Skipped' $R/ctest-gpu.log)  passed lines: $(grep -c ' Passed ' $R/ctest-gpu.log)"
tar -czf $OUT/resf2.tgz -C $R .
echo "total $((SECONDS-t0))s"
