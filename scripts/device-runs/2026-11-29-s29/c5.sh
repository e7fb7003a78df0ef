#!/usr/bin/env bash
# Session 29 c5 (warm after c5a, c5b): the real model (SmolLM2-135M-Instruct Q4_1) on the final
# code: its engine tests (greedy tokens equal the CPU engine's and the unfused path's), memcheck
# of a 16-token generation, `klab generate` with and without CUDA graphs, e2e default B=1 / 16.
# Prediction: tests pass, memcheck 0 errors, generate ~1,750-1,820 tok/s with graphs (s28:
# 1,809.3), e2e B=1 ~1,640-1,680 (1,659.9), B=16 ~18,000-18,400 (18,205.1): the engine's
# attention path (history_ready) and its Q4_1 GEMVs are unchanged in what they do.
set -uo pipefail
. scripts/device-runs/lib.sh
dr_start c5
dr_build klab_cli test_cuda_model_cuda_session_test
dr_real_model
dr_real_model_checks
dr_finish
