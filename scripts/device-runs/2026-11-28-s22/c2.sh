#!/usr/bin/env bash
# Prepared in session 21 for the next session (H200): racecheck of the binaries that ran past
# 180 s whole in s21 c6 (GEMV, fused decode, QKV), as 8 gtest shards each through gpu-check.sh's
# KLAB_SANITIZER_SHARDS (24 runs, 16 at once, <= 200 s each; the full build first, ~100 s).
# Expected: 0 hazards except the known report in gemv_mma_wide_staged_kernel's bar.arrive
# hand-off (s21 c7: racecheck does not model bar.arrive).
set -uo pipefail
# From the unpacked snapshot that c1 built /tmp/klab-build from (run as the first call, the
# build dir would not exist yet and it configures anew; from the repo root cmake refuses).
rm -rf /tmp/snap && mkdir -p /tmp/snap && tar -xzf .carry/snap.tgz -C /tmp/snap
commit=$(cat .carry/commit 2>/dev/null || echo unknown)
cd /tmp/snap || exit 1
mkdir -p "$OUT/san"
KLAB_GPU_CHECK_ONLY=sanitizer KLAB_RACECHECK=1 KLAB_SANITIZER_SHARDS=8 KLAB_SANITIZER_JOBS=16 \
  KLAB_TEST_FILTER='gemv_gemv_q|fused_decode|qkv_qkv' KLAB_SANITIZER_TIMEOUT=200 \
  KLAB_GIT_COMMIT=$commit OUT="$OUT/san" \
  bash scripts/gpu-check.sh 2>&1 | tail -8
