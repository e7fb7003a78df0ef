#!/usr/bin/env bash
# session 19, call c5 (H100), the final code (c3's rule): full build and every GPU test without the
# real model except the attention families (their code is unchanged since session 14; session 16's
# c7 ran them), since the wide batch's kernels and the `auto` rule changed this session.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c5
dr_build
(cd "$B" && timeout 420 ctest -L gpu -E "Attn|Prefill" -j10 --timeout 300 > "$R/ctest.log" 2>&1)
echo "ctest rc $? $(grep -E 'tests passed|tests failed' "$R/ctest.log") ($((SECONDS - t0))s)"
grep -E "\*\*\*Failed|\*\*\*Timeout|Exception" "$R/ctest.log" | head -10
dr_finish
