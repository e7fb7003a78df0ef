#!/usr/bin/env bash
# Session 26 c5 (H200), right after c4 / c4b while warm, on the final commit (c4's build): GEMV
# tests on the final loop (8-bit back to one chunk a stage), the two real-model engine tests
# (last run in s24), memcheck on a 16-token generation, `klab generate` 256 tokens with and
# without CUDA graphs, the default model's e2e rows, and issue 8's e2e matrices (attention is
# unchanged since s25 c3, whose tables stand).
# Expectation: tests pass, memcheck 0 errors, default model e2e B=1 ~1,650 tok/s (s24 1,662.2);
# 7B Q4_0 B=1 ctx 512 ~565-570 tok/s (c3 568.9 / 569.2), 8B Q4_0 ~510, Q8_0 ~428.
set -uo pipefail
test -f /tmp/m.b && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cat /tmp/m.a /tmp/m.b .carry/model.c > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models
ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
. scripts/device-runs/lib.sh
dr_start c5
sha256sum /tmp/m.gguf | cut -c1-16
dr_build klab_cli test_cuda_model_cuda_session_test test_cuda_gemv_gemv_q_test
dr_test_sharded gemv test_cuda_gemv_gemv_q_test 12 150
dr_test realmodel test_cuda_model_cuda_session_test 150 --gtest_filter='*RealModel*'
timeout 90 compute-sanitizer --tool memcheck --error-exitcode 99 "$K" generate -m /tmp/m.gguf \
  -p "The capital of France is" -n 16 --temp 0 --device cuda > "$R/generate-memcheck.log" 2>&1
echo "generate memcheck rc $? $(grep 'ERROR SUMMARY' "$R/generate-memcheck.log")"
for g in 1 0; do
  KLAB_CUDA_GRAPHS=$g timeout 60 "$K" generate -m /tmp/m.gguf -p "Once upon a time" -n 256 \
    --temp 0 --device cuda > "$R/generate-graphs$g.txt" 2>&1
  echo "graphs=$g: $(tail -1 "$R/generate-graphs$g.txt" | cut -c1-150)"
done
timeout 60 "$K" bench e2e --model default --batch 1,16 --ctx 512 --prompt 512 \
  --json "$R/e2e-default.json" > "$R/e2e-default.txt" 2>&1
echo "e2e default rc $? ($((SECONDS - t0))s)"
grep -hE "^bench: e2e.*tokens/s" "$R"/e2e-default.txt | cut -c1-140
dr_pack
dr_e2e_matrices
dr_finish
