#!/usr/bin/env bash
# session 10 final call 2 (H100, same warm machine as v1): with the real model in place, the GPU
# tests of every family this session touched (fused decode, dense and quantized GEMV, QKV, glue
# PDL, the engine sessions incl. the real-model greedy checks), run side by side; `klab
# generate` on the default model; its e2e case.
set -uo pipefail
export KLAB_GIT_COMMIT=$(cat .carry/commit 2>/dev/null || echo unknown)
test -f /tmp/m.a && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cat /tmp/m.a .carry/model.b > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models && ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
cd /tmp/snap; B=/tmp/klab-build; K=$B/bin/klab; R=/tmp/resv2; rm -rf $R; mkdir -p $R; t0=$SECONDS
for t in cuda_fused_decode_fused_decode_test cuda_gemv_gemv_dense_test cuda_gemv_gemv_q_test cuda_qkv_qkv_test cuda_model_glue_pdl_test cuda_model_cuda_session_test cuda_model_batch_decode_test model_cli_test; do
  (timeout 300 $B/tests/test_$t > $R/$t.log 2>&1; echo "$t rc $? $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' $R/$t.log | tr '\n' ' ') ($((SECONDS-t0))s)") &
done
wait
grep -h "FAILED  \]\|SKIPPED \]" $R/*.log | sort | uniq | head -20
for g in 1 0; do KLAB_CUDA_GRAPHS=$g timeout 30 $K generate -m /tmp/m.gguf -p "Once upon a time" -n 256 --temp 0 --device cuda 2>&1 | tail -1 | cut -c1-160; done
timeout 60 $K bench e2e --model default --json $R/e2e-default.json > $R/e2e-default.txt 2>&1; grep -hE "^bench: e2e .*tokens/s" $R/e2e-default.txt | cut -c1-130
tar -czf $OUT/resv2.tgz -C $R .
echo "total $((SECONDS-t0))s"
