#!/usr/bin/env bash
# Where one CUDA decode step spends its time: generation speed with and without the decode
# graph, then Nsight Compute's duration of every kernel of a short eager generation, summed
# per kernel over the last decode step. Writes under $OUT (default ./gpu-out).
# Usage: scripts/profile-decode.sh MODEL.gguf
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
model="$1"
out="${OUT:-$root/gpu-out}"
klab="${KLAB_BUILD_DIR:-/tmp/klab-build}/bin/klab"
mkdir -p "$out"
prompt="The capital of France is"
for graphs in 1 0; do
  echo "== KLAB_CUDA_GRAPHS=$graphs"
  KLAB_CUDA_GRAPHS=$graphs timeout 120 "$klab" generate -m "$model" -p "$prompt" -n 256 --temp 0 \
    --device cuda 2>&1 | tail -3
done
# Eager: 2 decode tokens profiled; the step's kernels are the last launches.
KLAB_CUDA_GRAPHS=0 timeout 300 ncu --clock-control none --cache-control none --metrics gpu__time_duration.sum --csv \
  "$klab" generate -m "$model" -p "$prompt" -n 3 --temp 0 --device cuda >"$out/ncu-decode.csv" 2>"$out/ncu-decode.err"
echo "ncu exit $?"
steps="${KLAB_PROFILE_STEP_KERNELS:-0}"
python3 "$root/scripts/ncu_summary.py" "$out/ncu-decode.csv" --last "$steps" | tee "$out/ncu-summary.txt" | head -40
