#!/usr/bin/env bash
# session 7 final call 2 (same warm machine as v1): every GPU test (ctest -L gpu) with the real
# model in place; the decode-attention bench (issue 4's shapes, PyTorch SDPA alongside); `klab
# generate` on the default model with and without CUDA graphs.
set -uo pipefail
test -f /tmp/m.a && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cat /tmp/m.a .carry/model.b > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models && ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
cd /tmp/snap; B=/tmp/klab-build; K=$B/bin/klab; R=/tmp/resv2; rm -rf $R; mkdir -p $R; t0=$SECONDS
(cd $B && timeout 420 ctest -L gpu -j10 --timeout 300 --output-on-failure > $R/ctest-gpu.log 2>&1); echo "ctest rc $? at $((SECONDS-t0))s"
grep -E "tests passed|tests failed|\*\*\*Failed|\*\*\*Timeout|Not Run" $R/ctest-gpu.log | head -20
echo "skipped: $(grep -c '\*\*\*Skipped' $R/ctest-gpu.log)  passed lines: $(grep -c ' Passed ' $R/ctest-gpu.log)"
grep -E "worst|rel" $R/ctest-gpu.log | grep -i "greedy\|logits" | head -4
timeout 60 $K bench decode-attn --batch 1,8 --len 4096,16384 --layout contiguous,paged --json $R/attn-decode.json > $R/attn-decode.txt 2>&1; echo "decode-attn rc $? at $((SECONDS-t0))s"
grep -hE "^bench: decode_attention/split_kv_mma_cluster_spec .*B=1" $R/attn-decode.txt | cut -c1-120
timeout 90 python3 scripts/bench_sdpa.py --decode 1:4096,1:16384,8:4096 --prefill 8192 --out $R/sdpa.json > $R/sdpa.txt 2>&1; echo "sdpa rc $? at $((SECONDS-t0))s"
for g in 1 0; do KLAB_CUDA_GRAPHS=$g timeout 30 $K generate -m /tmp/m.gguf -p "Once upon a time" -n 256 --temp 0 --device cuda 2>&1 | tail -1 | cut -c1-160; done
tar -czf $OUT/resv2.tgz -C $R .
echo "total $((SECONDS-t0))s"
