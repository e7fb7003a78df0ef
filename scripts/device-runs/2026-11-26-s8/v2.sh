#!/usr/bin/env bash
# session 8 final call 2 (H100, same warm machine as v1): every GPU test (ctest -L gpu) with the
# real model in place; `klab generate` on the default model; the in-graph timelines of the
# final engine (7B Q4_0 / Q8_0 / F16 B=1, 7B Q4_0 B=16, 8B Q4_0 B=1; ctx 512) and the default
# model's e2e case.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
test -f /tmp/m.a && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cat /tmp/m.a .carry/model.b > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models && ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
cd /tmp/snap; B=/tmp/klab-build; K=$B/bin/klab; R=/tmp/resv2; rm -rf $R; mkdir -p $R; t0=$SECONDS
(cd $B && timeout 420 ctest -L gpu -j10 --timeout 300 --output-on-failure > $R/ctest-gpu.log 2>&1); echo "ctest rc $? at $((SECONDS-t0))s"
grep -E "tests passed|tests failed|\*\*\*Failed|\*\*\*Timeout|Total Test" $R/ctest-gpu.log | head -20
echo "skipped: $(grep -c '\*\*\*Skipped' $R/ctest-gpu.log)  passed lines: $(grep -c ' Passed ' $R/ctest-gpu.log)"
for g in 1 0; do KLAB_CUDA_GRAPHS=$g timeout 30 $K generate -m /tmp/m.gguf -p "Once upon a time" -n 256 --temp 0 --device cuda 2>&1 | tail -1 | cut -c1-160; done
tl() { local n=$1; shift; timeout 60 $K bench e2e --prompt 0 --ctx 512 "$@" --timeline $R/tl > $R/tl-$n.txt 2>&1; grep -hE "timeline .*a step" $R/tl-$n.txt | cut -c1-160; }
tl 7b --model llama2-7b --weights q4_0,q8_0,f16 --batch 1
tl 7b-b16 --model llama2-7b --weights q4_0 --batch 16
tl 8b --model llama3-8b --weights q4_0 --batch 1
timeout 60 $K bench e2e --model default --json $R/e2e-default.json > $R/e2e-default.txt 2>&1; grep -hE "^bench: e2e .*tokens/s" $R/e2e-default.txt | cut -c1-130
tar -czf $OUT/resv2.tgz -C $R .
echo "total $((SECONDS-t0))s"
