#!/usr/bin/env bash
# Session 21 call 3 (H200), after c2 while warm (this call carries the real model's last third):
# the two real-model engine tests, memcheck on a 16-token generation, `klab generate` 256 tokens
# with and without CUDA graphs, the e2e rows for Llama-3-8B (Q4_0 / Q8_0 / F16,
# B 1/4/16, ctx 512/4096, 512-token prefill) and the default real model (B 1/16), and the quick
# kernel suite (every case validated) with its ceilings.
set -uo pipefail
test -f /tmp/m.b && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
cat /tmp/m.a /tmp/m.b .carry/model.c > /tmp/m.gguf
mkdir -p ~/.local/share/klab/models
ln -sf /tmp/m.gguf ~/.local/share/klab/models/SmolLM2-135M-Instruct.Q4_1.gguf
. scripts/device-runs/lib.sh
dr_start c3
sha256sum /tmp/m.gguf | cut -c1-16
dr_build klab_cli
dr_test realmodel test_cuda_model_cuda_session_test 150 --gtest_filter='*RealModel*'
timeout 90 compute-sanitizer --tool memcheck --error-exitcode 99 "$K" generate -m /tmp/m.gguf \
  -p "The capital of France is" -n 16 --temp 0 --device cuda > "$R/generate-memcheck.log" 2>&1
echo "generate memcheck rc $? $(grep 'ERROR SUMMARY' "$R/generate-memcheck.log")"
for g in 1 0; do
  KLAB_CUDA_GRAPHS=$g timeout 60 "$K" generate -m /tmp/m.gguf -p "Once upon a time" -n 256 \
    --temp 0 --device cuda > "$R/generate-graphs$g.txt" 2>&1
  echo "graphs=$g: $(tail -1 "$R/generate-graphs$g.txt" | cut -c1-150)"
done
timeout 250 "$K" bench e2e --model llama3-8b --weights q4_0,q8_0,f16 --batch 1,4,16 \
  --ctx 512,4096 --prompt 512 --json "$R/e2e-llama3-8b.json" > "$R/e2e-llama3-8b.txt" 2>&1
echo "e2e 8b rc $? ($((SECONDS - t0))s)"
timeout 60 "$K" bench e2e --model default --batch 1,16 --ctx 512 --prompt 512 \
  --json "$R/e2e-default.json" > "$R/e2e-default.txt" 2>&1
echo "e2e default rc $? ($((SECONDS - t0))s)"
grep -hE "^bench: e2e.*tokens/s" "$R"/e2e-*.txt | cut -c1-140
left=$((540 - (SECONDS - t0)))
timeout "$left" "$K" bench --suite quick --json "$R/quick.json" --csv "$R/quick.csv" > "$R/quick.txt" 2>&1
echo "quick suite rc $? ($((SECONDS - t0))s)"
tail -3 "$R/quick.txt" | cut -c1-150
dr_finish
