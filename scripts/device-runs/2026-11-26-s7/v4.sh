#!/usr/bin/env bash
# session 7 final call 4 (same warm machine as v3): every GPU test (ctest -L gpu) with the real
# model in place, on the final commit; `klab generate` on the default model with and without
# CUDA graphs.
set -uo pipefail
test -f /tmp/m.a && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cat /tmp/m.a .carry/model.b > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models && ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
cd /tmp/snap; B=/tmp/klab-build; K=$B/bin/klab; R=/tmp/resv4; rm -rf $R; mkdir -p $R; t0=$SECONDS
(cd $B && timeout 480 ctest -L gpu -j10 --timeout 300 --output-on-failure > $R/ctest-gpu.log 2>&1); echo "ctest rc $? at $((SECONDS-t0))s"
grep -E "tests passed|tests failed|\*\*\*Failed|\*\*\*Timeout|Total Test" $R/ctest-gpu.log | head -20
echo "skipped: $(grep -c '\*\*\*Skipped' $R/ctest-gpu.log)  passed lines: $(grep -c ' Passed ' $R/ctest-gpu.log)"
for g in 1 0; do KLAB_CUDA_GRAPHS=$g timeout 30 $K generate -m /tmp/m.gguf -p "Once upon a time" -n 256 --temp 0 --device cuda 2>&1 | tail -1 | cut -c1-160; done
tar -czf $OUT/resv4.tgz -C $R .
echo "total $((SECONDS-t0))s"
