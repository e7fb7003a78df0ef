#!/usr/bin/env bash
# Where a synthetic-model decode step spends its time (issue 8's breakdown): Nsight Compute
# durations of the kernels of steady-state decode steps of `klab bench e2e` (graph nodes are
# profiled one by one), summed per kernel. Writes $OUT/ncu-e2e.csv and $OUT/ncu-e2e-summary.txt.
# Usage: scripts/profile-e2e.sh [MODEL [WEIGHTS [BATCH]]]   (default llama2-7b q4_0 1)
# KLAB_PROFILE_SKIP (default 3000) launches are skipped (cache fill + warm-up), then
# KLAB_PROFILE_COUNT (default 600, about two 7B steps) are measured. --cache-control none keeps
# L2 warm as in the real loop; --clock-control none leaves the clocks alone (METHOD.md).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$root/gpu-out}"
klab="${KLAB_BUILD_DIR:-/tmp/klab-build}/bin/klab"
model="${1:-llama2-7b}"
weights="${2:-q4_0}"
batch="${3:-1}"
mkdir -p "$out"
timeout 500 ncu --clock-control none --cache-control none --graph-profiling node \
  --launch-skip "${KLAB_PROFILE_SKIP:-3000}" --launch-count "${KLAB_PROFILE_COUNT:-600}" \
  --metrics gpu__time_duration.sum --csv \
  "$klab" bench e2e --model "$model" --weights "$weights" --batch "$batch" --ctx 512 --prompt 0 \
  >"$out/ncu-e2e.csv" 2>"$out/ncu-e2e.err"
echo "ncu exit $?"
python3 "$root/scripts/ncu_summary.py" "$out/ncu-e2e.csv" | tee "$out/ncu-e2e-summary.txt" | head -30
