#!/usr/bin/env bash
# Session 24 c5 (H200), right after c4 while warm (c4 and c4b left the real model's first two thirds and the
# build in /tmp): on the final code (s23 c6's cluster decode loop), the two real-model engine
# tests (greedy tokens equal the CPU's / the unfused path's), memcheck on a 16-token generation,
# `klab generate` 256 tokens with and without CUDA graphs, and the default model's e2e rows.
# Expectation: tests pass, memcheck 0 errors, e2e B=1 ~1,600-1,650 tok/s (s21: 1,640.4).
set -uo pipefail
test -f /tmp/m.b && test -x /tmp/klab-build/bin/klab || { echo COLD; exit 3; }
. scripts/device-runs/lib.sh
dr_start c5
dr_real_model
dr_build klab_cli test_cuda_model_cuda_session_test
dr_real_model_checks
dr_finish
