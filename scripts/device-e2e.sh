#!/usr/bin/env bash
# The real model on a GPU machine, after scripts/gpu-check.sh (or any build) made $KLAB_BUILD_DIR:
# greedy generation on CUDA and CPU, decode speed, perplexity on both, and the logits check
# against HF transformers (scripts/compare_transformers.py). Writes everything under $OUT.
# Usage: scripts/device-e2e.sh MODEL.gguf [TEXT]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$1"
text="${2:-$root/tests/fixtures/text/genesis-kjv.txt}"
out="${OUT:-$root/gpu-out}"
klab="${KLAB_BUILD_DIR:-/tmp/klab-build}/bin/klab"
mkdir -p "$out"
log="$out/e2e.txt"
run() { echo "\$ $*" | tee -a "$log"; timeout 120 "$@" 2>&1 | tee -a "$log"; echo | tee -a "$log"; }

for dev in cuda cpu; do
  run "$klab" generate -m "$model" -p "The capital of France is" -n 64 --temp 0 --device "$dev"
  run "$klab" generate -m "$model" --chat -p "Give me three tips for staying healthy." -n 96 \
    --temp 0 --device "$dev"
done
run "$klab" generate -m "$model" -p "Once upon a time" -n 256 --temp 0 --device cuda
run "$klab" perplexity -m "$model" -f "$text" --ctx 512 --chunks 4 --device cpu
run "$klab" perplexity -m "$model" -f "$text" --ctx 512 --chunks 4 --device cuda \
  --dump-logits /tmp/klab-dump
if python3 -c "import transformers, gguf" 2>/dev/null; then
  run python3 "$root/scripts/compare_transformers.py" --gguf "$model" --dump /tmp/klab-dump \
    --ctx 512 --json "$out/compare-transformers.json"
else
  echo "transformers or gguf missing: logits comparison skipped" | tee -a "$log"
fi
