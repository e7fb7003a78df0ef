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
. scripts/device-runs/lib.sh
dr_start c5
dr_real_model
dr_build klab_cli test_cuda_model_cuda_session_test test_cuda_gemv_gemv_q_test
dr_test_sharded gemv test_cuda_gemv_gemv_q_test 12 150
dr_real_model_checks
dr_pack
dr_e2e_matrices
dr_finish
