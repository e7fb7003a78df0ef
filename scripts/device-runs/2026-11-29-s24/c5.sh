#!/usr/bin/env bash
# Session 24 c5 (H200), right after c4 while warm (c4 and c4b left the real model's first two thirds and the
# build in /tmp): on the final code (s23 c6's cluster decode loop), the two real-model engine
# tests (greedy tokens equal the CPU's / the unfused path's), memcheck on a 16-token generation,
# `klab generate` 256 tokens with and without CUDA graphs, and the default model's e2e rows.
# Expectation: tests pass, memcheck 0 errors, e2e B=1 ~1,600-1,650 tok/s (s21: 1,640.4).
set -uo pipefail
test -f /tmp/m.b && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cat /tmp/m.a /tmp/m.b .carry/model.c > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models
ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
. scripts/device-runs/lib.sh
dr_start c5
sha256sum /tmp/m.gguf | cut -c1-16
dr_build klab_cli test_cuda_model_cuda_session_test
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
grep -hE "^bench: e2e.*tokens/s" "$R"/e2e-*.txt | cut -c1-140
dr_finish
